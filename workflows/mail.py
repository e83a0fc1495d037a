"""An outgoing mail (the outbox): pending -> sent, or failed after the last attempt; a failed
mail can be put back to pending to try again."""

from workflows.binding import define, state_names

STATES = ["pending", "sent", "failed"]

TRANSITIONS = [
    {"trigger": "deliver", "source": "pending", "dest": "sent"},
    {"trigger": "give_up", "source": "pending", "dest": "failed"},
    {"trigger": "retry", "source": "failed", "dest": "pending"},
]

LABELS = {
    "pending": "送信待ち",
    "sent": "送信済み",
    "failed": "送信失敗",
    "event:deliver": "送信",
    "event:give_up": "送信失敗",
    "event:retry": "再送",
}

MACHINE = define("mail", STATES, TRANSITIONS, "pending", LABELS)
S = state_names(MACHINE)
