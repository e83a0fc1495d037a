"""Store registration (DESIGN.md section 3): applied -> under_review -> approved -> active
<-> suspended -> withdrawn; rejected. Only an active store can take coupons.

The store's second machine, BANK_CHANGE (machine name "bank_change"): a store's request to change
its transfer account (a classic fraud path): requested -> approved (the secretariat, after
checking with the store by phone) | rejected; the store may withdraw it while it waits. Only
approval changes the account payments go to."""

from workflows.binding import define, state_names

STATES = ["applied", "under_review", "approved", "active", "suspended", "withdrawn", "rejected"]

TRANSITIONS = [
    {"trigger": "review", "source": "applied", "dest": "under_review"},
    {"trigger": "approve", "source": "under_review", "dest": "approved"},
    {"trigger": "reject", "source": ["applied", "under_review"], "dest": "rejected"},
    {"trigger": "activate", "source": "approved", "dest": "active"},
    {"trigger": "suspend", "source": "active", "dest": "suspended"},
    {"trigger": "reinstate", "source": "suspended", "dest": "active"},
    {"trigger": "withdraw", "source": ["approved", "active", "suspended"], "dest": "withdrawn"},
]

LABELS = {
    "applied": "申請受付",
    "under_review": "審査中",
    "approved": "承認済み",
    "active": "利用可能",
    "suspended": "一時停止",
    "withdrawn": "登録取消",
    "rejected": "不承認",
    "event:review": "審査開始",
    "event:approve": "承認",
    "event:reject": "不承認",
    "event:activate": "利用開始",
    "event:suspend": "一時停止",
    "event:reinstate": "再開",
    "event:withdraw": "登録取消",
}

MACHINE = define("store", STATES, TRANSITIONS, "applied", LABELS)
S = state_names(MACHINE)

BANK_CHANGE_STATES = ["requested", "approved", "rejected", "withdrawn"]

BANK_CHANGE_TRANSITIONS = [
    {"trigger": "approve", "source": "requested", "dest": "approved"},
    {"trigger": "reject", "source": "requested", "dest": "rejected"},
    {"trigger": "withdraw", "source": "requested", "dest": "withdrawn"},
]

BANK_CHANGE_LABELS = {
    "requested": "承認待ち",
    "approved": "承認済み(変更済み)",
    "rejected": "不承認",
    "withdrawn": "取下げ",
    "event:approve": "承認",
    "event:reject": "不承認",
    "event:withdraw": "取下げ",
}

BANK_CHANGE = define(
    "bank_change", BANK_CHANGE_STATES, BANK_CHANGE_TRANSITIONS, "requested", BANK_CHANGE_LABELS
)
B = state_names(BANK_CHANGE)
