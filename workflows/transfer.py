"""Moving a resident's coupons to a new LINE account after a lost phone (four eyes): an agent
requests it after an identity check recorded on the inquiry -> a city approver approves it
(the move happens then) | rejects it; the agent may withdraw it while it waits."""

from workflows.binding import define, state_names

STATES = ["requested", "approved", "rejected", "withdrawn"]

TRANSITIONS = [
    {"trigger": "approve", "source": "requested", "dest": "approved"},
    {"trigger": "reject", "source": "requested", "dest": "rejected"},
    {"trigger": "withdraw", "source": "requested", "dest": "withdrawn"},
]

LABELS = {
    "requested": "承認待ち",
    "approved": "承認済み(移行済み)",
    "rejected": "不承認",
    "withdrawn": "取下げ",
    "event:approve": "承認",
    "event:reject": "不承認",
    "event:withdraw": "取下げ",
}

MACHINE = define("transfer", STATES, TRANSITIONS, "requested", LABELS)
S = state_names(MACHINE)
