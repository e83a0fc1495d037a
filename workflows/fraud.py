"""Fraud case (DESIGN.md section 3, issue 15): flagged -> under_review -> cleared | confirmed.

The periodic scan (kariya.fraud.scan) opens a case flagged, one per subject (a store or a
resident) and rule; the secretariat reviews it (while a store's case is under review, the
store's payout lines are held); the city decides: cleared (nothing wrong: the lines are
released) or confirmed (the store's takings from the evidence are deducted through an
adjustment proposed in the four-eyes adjustment flow, never by editing a use).

Events recorded in a case's history without changing its state: `flag` (the case opened) and
`evidence` (a later scan added uses or figures to the open case)."""

from workflows.binding import define, state_names

STATES = ["flagged", "under_review", "cleared", "confirmed"]

TRANSITIONS = [
    {"trigger": "review", "source": "flagged", "dest": "under_review"},
    {"trigger": "clear", "source": "under_review", "dest": "cleared"},
    {"trigger": "confirm", "source": "under_review", "dest": "confirmed"},
]

LABELS = {
    "flagged": "検知(未確認)",
    "under_review": "調査中",
    "cleared": "問題なし",
    "confirmed": "不正と確定",
    "event:review": "調査を開始",
    "event:clear": "問題なしと判断",
    "event:confirm": "不正と確定",
    "event:flag": "検知",
    "event:evidence": "証拠の追加",
}

MACHINE = define("fraud_case", STATES, TRANSITIONS, "flagged", LABELS)
S = state_names(MACHINE)

# A case still open: a later scan adds its evidence to it rather than opening another.
OPEN = (S.flagged, S.under_review)
