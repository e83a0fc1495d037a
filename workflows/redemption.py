"""Redemption (a use at a store): confirmed -> voided (by the store, within its window)."""

from workflows.binding import define, state_names

STATES = ["confirmed", "voided"]
TRANSITIONS = [{"trigger": "void", "source": "confirmed", "dest": "voided"}]
LABELS = {"confirmed": "利用済み", "voided": "取消済み", "event:void": "取消"}

MACHINE = define("redemption", STATES, TRANSITIONS, "confirmed", LABELS)
S = state_names(MACHINE)
