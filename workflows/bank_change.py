"""A store's request to change its transfer account (a classic fraud path): requested ->
approved (the secretariat, after checking with the store by phone) | rejected; the store may
withdraw it while it waits. Only approval changes the account payments go to."""

from workflows.binding import define, state_names

STATES = ["requested", "approved", "rejected", "withdrawn"]

TRANSITIONS = [
    {"trigger": "approve", "source": "requested", "dest": "approved"},
    {"trigger": "reject", "source": "requested", "dest": "rejected"},
    {"trigger": "withdraw", "source": "requested", "dest": "withdrawn"},
]

LABELS = {
    "requested": "承認待ち",
    "approved": "承認済み(変更済み)",
    "rejected": "不承認",
    "withdrawn": "取下げ",
    "event:approve": "承認",
    "event:reject": "不承認",
    "event:withdraw": "取下げ",
}

MACHINE = define("bank_change", STATES, TRANSITIONS, "requested", LABELS)
S = state_names(MACHINE)
