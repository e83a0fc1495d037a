"""A bulk build of every active store's printed materials (S-2): queued -> running -> done, or
failed when the build raises or its worker falls silent (given up). A task delivered again while
its job runs (a worker lost) restarts it; a finished or failed job is never run again."""

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
    "running": "作成中",
    "done": "完了",
    "failed": "失敗",
    "event:start": "作成開始",
    "event:restart": "作成のやり直し",
    "event:finish": "作成完了",
    "event:fail": "作成失敗",
    "event:give_up": "停止した作成の打ち切り",
}

MACHINE = define("material_job", STATES, TRANSITIONS, "queued", LABELS)
S = state_names(MACHINE)
