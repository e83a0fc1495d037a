"""The fraud watch's thresholds (issue 15): a group of kariya.settings.Settings (`settings.fraud`,
ini keys `kariya.fraud.*`), kept here so that settings.py stays readable; read like every other
setting (typed, defaults written once, environment over ini). kariya/fraud/rules.py says what
each rule compares. Beside them, for the same reason, the privacy group (`settings.privacy`,
`kariya.privacy.*`): the withdrawal's key and the erasure's retention period; the till's
(`settings.till`, `kariya.till.*`); and the acquisition's (`settings.acquisition`,
`kariya.acquisition.*`): the sold-out memo and the group commit of the rush."""

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


@dataclasses.dataclass(frozen=True)
class Privacy:
    """Withdrawal (DESIGN §5.1, kariya/residents/withdrawal.py): a withdrawn resident's LINE user
    id is kept only as HMAC-SHA256 under `withdrawal_key`, so that the account cannot acquire
    twice in a round by withdrawing and returning. Production needs a random key of its own
    (KARIYA_WITHDRAWAL_KEY), kept for the whole campaign (a new key forgets who withdrew); empty
    elsewhere: derived from the session secret. The erasure after the hand-over
    (kariya/reports/retention.py) deletes the access records older than `access_log_days`."""

    PREFIX: ClassVar[str] = "kariya.privacy."

    withdrawal_key: str = dataclasses.field(default="", repr=False)
    access_log_days: int = 365

    def __post_init__(self) -> None:
        if self.access_log_days < 0:
            from pyramid.exceptions import ConfigurationError

            raise ConfigurationError("kariya.privacy.access_log_days must not be negative")

    def production_problems(self, session_secret: str) -> list[str]:
        """Why production must not start with this group (kariya.settings.check)."""
        from kariya.settings import secret_strength_problem

        key = self.withdrawal_key
        weakness = secret_strength_problem(key) or (
            key == session_secret and "it is the session secret"
        )
        if not weakness:
            return []
        return [
            f"kariya.privacy.withdrawal_key is too weak ({weakness}): it must be a random value "
            "of its own, kept for the whole campaign (set KARIYA_WITHDRAWAL_KEY)"
        ]


@dataclasses.dataclass(frozen=True)
class Till:
    """At the till (kariya/redemptions/till.py): the key of the stores' codes of the day and of
    their staff PINs' hashes (empty: derived from the session secret, so a new session secret
    changes the codes and voids every PIN; set its own to keep them apart), and how many wrong
    PINs lock a store's QR for a resident until the end of the day."""

    PREFIX: ClassVar[str] = "kariya.till."

    secret: str = dataclasses.field(default="", repr=False)
    max_pin_failures: int = 3


@dataclasses.dataclass(frozen=True)
class Acquisition:
    """The rush's acquisitions (kariya/coupons/acquisition.py, group_commit.py)."""

    PREFIX: ClassVar[str] = "kariya.acquisition."

    # Late arrivals after a sell-out are refused from memory for this long (0: off).
    sold_out_memo_seconds: float = 1.0
    # Group commit: one transaction for the acquisitions that arrive within the window, at most
    # group_commit_max of them (1 or less: off, every acquisition its own transaction). The
    # batch leaves group_commit_reserve packs for the single path, which sells the round out.
    group_commit_max: int = 64
    group_commit_window_ms: float = 2.0
    group_commit_reserve: int = 1
    group_commit_wait_seconds: float = 10.0
