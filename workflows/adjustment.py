"""A payout adjustment (F-5: a disputed use, a correction): proposed by the secretariat ->
approved by someone else (four eyes) | rejected. An approved adjustment is paid, or deducted,
in the store's next payout batch; it is never edited, only offset by another adjustment."""

from workflows.binding import define, state_names

STATES = ["proposed", "approved", "rejected"]

TRANSITIONS = [
    {"trigger": "approve", "source": "proposed", "dest": "approved"},
    {"trigger": "reject", "source": "proposed", "dest": "rejected"},
]

LABELS = {
    "proposed": "承認待ち",
    "approved": "承認済み",
    "rejected": "不承認",
    "event:approve": "承認",
    "event:reject": "不承認",
}

MACHINE = define("adjustment", STATES, TRANSITIONS, "proposed", LABELS)
S = state_names(MACHINE)
