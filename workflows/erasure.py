"""Erasing the residents' personal data after the hand-over (D-1, D-2), four eyes: the
secretariat requests it (naming the hand-over it follows) -> a city approver approves or rejects
it -> the secretariat's command executes it (once) and records the proof of what remains."""

from workflows.binding import define, state_names

STATES = ["requested", "approved", "rejected", "executed"]

TRANSITIONS = [
    {"trigger": "approve", "source": "requested", "dest": "approved"},
    {"trigger": "reject", "source": "requested", "dest": "rejected"},
    {"trigger": "execute", "source": "approved", "dest": "executed"},
]

LABELS = {
    "requested": "承認待ち",
    "approved": "承認済み(未実行)",
    "rejected": "不承認",
    "executed": "消去済み",
    "event:approve": "承認",
    "event:reject": "不承認",
    "event:execute": "消去の実行",
}

MACHINE = define("erasure", STATES, TRANSITIONS, "requested", LABELS)
S = state_names(MACHINE)
