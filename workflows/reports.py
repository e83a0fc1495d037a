"""The city's view's machines (kariya.reports), one module for the domain as payout.py is for
the payouts:

MACHINE, the job of a data export for the city (C-2) or of the hand-over ZIP (D-2), run in the
background: queued -> running -> done, or failed when the export raises or its worker falls
silent (given up). A task delivered again while its job runs (a worker lost) restarts it; a finished or failed
job is never run again.

ERASURE, the erasure of the residents' personal data after the hand-over (D-1, D-2), four
eyes: the secretariat requests it (naming the hand-over it follows) -> a city approver approves
or rejects it -> the secretariat's command executes it (once) and records the proof of what
remains."""

from workflows.binding import define, state_names

STATES = ["queued", "running", "done", "failed"]
UNFINISHED = ("queued", "running")

TRANSITIONS = [
    {"trigger": "start", "source": "queued", "dest": "running"},
    {"trigger": "restart", "source": "running", "dest": "running"},
    {"trigger": "finish", "source": "running", "dest": "done"},
    {"trigger": "fail", "source": "running", "dest": "failed"},
    {"trigger": "give_up", "source": list(UNFINISHED), "dest": "failed"},
]

LABELS = {
    "queued": "開始待ち",
    "running": "出力中",
    "done": "完了",
    "failed": "失敗",
    "event:start": "出力開始",
    "event:restart": "出力のやり直し",
    "event:finish": "出力完了",
    "event:fail": "出力失敗",
    "event:give_up": "停止した出力の打ち切り",
}

MACHINE = define("export_job", STATES, TRANSITIONS, "queued", LABELS)
S = state_names(MACHINE)

ERASURE_STATES = ["requested", "approved", "rejected", "executed"]

ERASURE_TRANSITIONS = [
    {"trigger": "approve", "source": "requested", "dest": "approved"},
    {"trigger": "reject", "source": "requested", "dest": "rejected"},
    {"trigger": "execute", "source": "approved", "dest": "executed"},
]

ERASURE_LABELS = {
    "requested": "承認待ち",
    "approved": "承認済み(未実行)",
    "rejected": "不承認",
    "executed": "消去済み",
    "event:approve": "承認",
    "event:reject": "不承認",
    "event:execute": "消去の実行",
}

ERASURE = define("erasure", ERASURE_STATES, ERASURE_TRANSITIONS, "requested", ERASURE_LABELS)
E = state_names(ERASURE)
