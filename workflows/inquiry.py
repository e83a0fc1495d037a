"""A call-centre inquiry (DESIGN.md section 3, Q-1): new -> open (an agent takes it) <-> waiting
(on the caller; its due clock pauses) · open -> escalated (to the city) -> answered (by the city)
-> open · open -> resolved -> closed (by itself after N business days, or by hand) · resolved ->
open (reopened) · any state but closed -> merged (a duplicate of another inquiry).

TRANSFER, the second machine here: moving a resident's coupons to a new LINE account after a
lost phone, which an inquiry opens (four eyes): an agent requests it after an identity check
recorded on the inquiry -> a city approver approves it (the move happens then) | rejects it;
the agent may withdraw it while it waits."""

from workflows.binding import define, state_names

STATES = ["new", "open", "waiting", "escalated", "answered", "resolved", "closed", "merged"]

TRANSITIONS = [
    {"trigger": "take", "source": "new", "dest": "open"},
    {"trigger": "wait", "source": "open", "dest": "waiting"},
    {"trigger": "resume", "source": ["waiting", "answered"], "dest": "open"},
    {"trigger": "escalate", "source": "open", "dest": "escalated"},
    {"trigger": "answer", "source": "escalated", "dest": "answered"},
    {"trigger": "resolve", "source": "open", "dest": "resolved"},
    {"trigger": "reopen", "source": "resolved", "dest": "open"},
    {"trigger": "close", "source": "resolved", "dest": "closed"},
    {
        "trigger": "merge",
        "source": ["new", "open", "waiting", "escalated", "answered", "resolved"],
        "dest": "merged",
    },
]

LABELS = {
    "new": "未対応",
    "open": "対応中",
    "waiting": "お客さま待ち",
    "escalated": "市に報告中",
    "answered": "市から回答あり",
    "resolved": "解決",
    "closed": "完了",
    "merged": "統合済み",
    "event:take": "対応開始",
    "event:wait": "お客さま待ち",
    "event:resume": "対応再開",
    "event:escalate": "市へ報告",
    "event:answer": "市の回答",
    "event:resolve": "解決",
    "event:reopen": "再対応",
    "event:close": "完了",
    "event:merge": "統合",
}

MACHINE = define("inquiry", STATES, TRANSITIONS, "new", LABELS)
S = state_names(MACHINE)

TRANSFER_STATES = ["requested", "approved", "rejected", "withdrawn"]

TRANSFER_TRANSITIONS = [
    {"trigger": "approve", "source": "requested", "dest": "approved"},
    {"trigger": "reject", "source": "requested", "dest": "rejected"},
    {"trigger": "withdraw", "source": "requested", "dest": "withdrawn"},
]

TRANSFER_LABELS = {
    "requested": "承認待ち",
    "approved": "承認済み(移行済み)",
    "rejected": "不承認",
    "withdrawn": "取下げ",
    "event:approve": "承認",
    "event:reject": "不承認",
    "event:withdraw": "取下げ",
}

TRANSFER = define("transfer", TRANSFER_STATES, TRANSFER_TRANSITIONS, "requested", TRANSFER_LABELS)
T = state_names(TRANSFER)
