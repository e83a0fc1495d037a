"""Payout batch (DESIGN.md section 3, F-1..F-5): draft -> submitted -> approved (by the city) ->
exported -> transferred -> reconciled; a rejected batch goes back to draft. A batch is frozen once
submitted: only a draft's lines can change.

A batch's line (one store's transfer) is `included` or `held` (a suspended store, a bank account
that cannot be paid, a fraud case under review: carried to the next batch) when the batch is
built, and the bank's result moves an included line to `transferred` or `failed` (its uses go to
the next batch). A store's payout hold (kariya.payouts.holds) holds its included lines of batches
not yet exported (`hold`) and, once lifted, includes a draft's held line again (`release`)."""

from workflows.binding import define, state_names

STATES = ["draft", "submitted", "approved", "rejected", "exported", "transferred", "reconciled"]

TRANSITIONS = [
    {"trigger": "submit", "source": "draft", "dest": "submitted"},
    {"trigger": "approve", "source": "submitted", "dest": "approved"},
    {"trigger": "reject", "source": "submitted", "dest": "rejected"},
    {"trigger": "redraft", "source": "rejected", "dest": "draft"},
    {"trigger": "export", "source": "approved", "dest": "exported"},
    {"trigger": "mark_transferred", "source": "exported", "dest": "transferred"},
    {"trigger": "reconcile", "source": "transferred", "dest": "reconciled"},
]

LABELS = {
    "draft": "作成中",
    "submitted": "承認待ち",
    "approved": "承認済み",
    "rejected": "差戻し",
    "exported": "振込データ出力済み",
    "transferred": "振込済み",
    "reconciled": "照合済み",
    "event:submit": "承認申請",
    "event:approve": "承認",
    "event:reject": "差戻し",
    "event:redraft": "再作成",
    "event:export": "振込データ出力",
    "event:mark_transferred": "振込結果登録",
    "event:reconcile": "照合完了",
}

MACHINE = define("payout", STATES, TRANSITIONS, "draft", LABELS)
S = state_names(MACHINE)

LINE_STATES = ["included", "held", "transferred", "failed"]

LINE_TRANSITIONS = [
    {"trigger": "transfer", "source": "included", "dest": "transferred"},
    {"trigger": "fail", "source": "included", "dest": "failed"},
    {"trigger": "hold", "source": "included", "dest": "held"},
    {"trigger": "release", "source": "held", "dest": "included"},
]

LINE_LABELS = {
    "included": "振込対象",
    "held": "保留(次回へ繰越)",
    "transferred": "振込済み",
    "failed": "振込不能(次回へ繰越)",
    "event:transfer": "振込完了",
    "event:fail": "振込不能",
    "event:hold": "保留",
    "event:release": "保留の解除",
}

LINE = define(
    "payout_line", LINE_STATES, LINE_TRANSITIONS, "included", LINE_LABELS, attribute="status"
)
L = state_names(LINE)

# A payout adjustment (F-5: a disputed use, a correction): proposed by the secretariat ->
# approved by someone else (four eyes) | rejected. An approved adjustment is paid, or deducted,
# in the store's next payout batch; it is never edited, only offset by another adjustment.
ADJUSTMENT_STATES = ["proposed", "approved", "rejected"]

ADJUSTMENT_TRANSITIONS = [
    {"trigger": "approve", "source": "proposed", "dest": "approved"},
    {"trigger": "reject", "source": "proposed", "dest": "rejected"},
]

ADJUSTMENT_LABELS = {
    "proposed": "承認待ち",
    "approved": "承認済み",
    "rejected": "不承認",
    "event:approve": "承認",
    "event:reject": "不承認",
}

ADJUSTMENT = define(
    "adjustment", ADJUSTMENT_STATES, ADJUSTMENT_TRANSITIONS, "proposed", ADJUSTMENT_LABELS
)
A = state_names(ADJUSTMENT)
