"""The fraud watch's thresholds (issue 15): a group of kariya.settings.Settings (`settings.fraud`,
ini keys `kariya.fraud.*`), kept here so that settings.py stays readable; read like every other
setting (typed, defaults written once, environment over ini). kariya/fraud/rules.py says what
each rule compares."""

from __future__ import annotations

import dataclasses
from typing import ClassVar


@dataclasses.dataclass(frozen=True)
class Fraud:
    """The fraud watch's thresholds (kariya/fraud/rules.py says what each rule compares)."""

    PREFIX: ClassVar[str] = "kariya.fraud."

    scan_seconds: float = 600.0  # the beat's scan (0: no beat entry)
    window_days: int = 7  # the recent uses the rules look at
    takings_factor: float = 5.0  # a store's round takings against its category's median
    takings_min_amount: int = 100_000
    takings_min_stores: int = 5  # fewer stores with uses in a category: the median of all
    rise_factor: float = 5.0  # a day's takings against the store's previous days
    rise_min_amount: int = 50_000
    rise_floor_amount: int = 5_000  # the least a previous days' mean counts as
    burst_uses: int = 10  # uses at one store within burst_minutes
    burst_minutes: int = 5
    off_hours_grace_minutes: int = 30
    off_hours_min_uses: int = 3
    ring_residents: int = 3  # residents using a store together (within ring_minutes) ...
    ring_rounds: int = 3  # ... in this many rounds, with this share of the store's uses
    ring_minutes: int = 15
    ring_share: float = 0.3
    far_minutes: int = 5  # one resident at stores of different districts within
    new_store_days: int = 14  # a store activated after the campaign began, its first days
    new_store_factor: float = 3.0
    new_store_min_amount: int = 50_000
    bank_change_days: int = 7  # an account changed this recently, with unpaid takings
    bank_change_min_amount: int = 10_000
    voids_min: int = 5  # voids by one store in a round, and their share of its uses
    voids_share: float = 0.2
    bulk_residents: int = 15  # residents with the same profile registered within bulk_minutes
    bulk_minutes: int = 10  # ... and bulk_factor times as many as that profile's share of all
    bulk_factor: float = 3.0  # the registrations in those minutes would give
    bulk_before_hours: int = 72  # before a round opens
