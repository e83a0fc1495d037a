"""Coupon lifecycle (DESIGN.md section 3): issued -> used -> issued (void) ; issued -> expired."""

from workflows.binding import define, state_names

STATES = ["issued", "used", "expired"]

TRANSITIONS = [
    {"trigger": "use", "source": "issued", "dest": "used"},
    {"trigger": "void", "source": "used", "dest": "issued"},
    {"trigger": "expire", "source": "issued", "dest": "expired"},
]

LABELS = {
    "issued": "未使用",
    "used": "使用済み",
    "expired": "期限切れ",
    "event:use": "使用",
    "event:void": "取消",
    "event:expire": "失効",
}

MACHINE = define("coupon", STATES, TRANSITIONS, "issued", LABELS)
S = state_names(MACHINE)
