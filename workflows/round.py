"""Round lifecycle (DESIGN.md section 3): scheduled -> open -> sold_out -> closed -> settled;
halted when the city stops issuance (I-3), resumable."""

from workflows.binding import define, state_names

STATES = ["scheduled", "open", "sold_out", "halted", "closed", "settled"]

TRANSITIONS = [
    {"trigger": "open", "source": "scheduled", "dest": "open"},
    {"trigger": "open_halted", "source": "scheduled", "dest": "halted"},
    {"trigger": "sell_out", "source": "open", "dest": "sold_out"},
    {"trigger": "halt", "source": ["open", "sold_out"], "dest": "halted"},
    {"trigger": "resume", "source": "halted", "dest": "open"},
    {"trigger": "close", "source": ["open", "sold_out", "halted"], "dest": "closed"},
    {"trigger": "settle", "source": "closed", "dest": "settled"},
]

LABELS = {
    "scheduled": "開始前",
    "open": "配布中",
    "sold_out": "配布終了(上限到達)",
    "halted": "配布停止中",
    "closed": "終了",
    "settled": "精算済み",
    "event:open": "開始",
    "event:open_halted": "停止中のまま開始",
    "event:sell_out": "上限到達",
    "event:halt": "配布停止",
    "event:resume": "配布再開",
    "event:close": "終了",
    "event:settle": "繰越精算",
}

MACHINE = define("round", STATES, TRANSITIONS, "scheduled", LABELS)
S = state_names(MACHINE)
