"""A data export for the city (C-2) or the hand-over ZIP (D-2), run in the background:
queued -> running -> done, or failed when the export raises or its worker falls silent (given
up). A task delivered again while its job runs (a worker lost) restarts it; a finished or failed
job is never run again."""

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
