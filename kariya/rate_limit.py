"""The rate limits' settings (`kariya.rate_limit.*`): one group of the typed settings, read into
`Settings.rate_limit` by kariya/settings.py like every other group (kept in a module of its own
so that kariya/settings.py stays under 500 lines); views/ratelimits.py applies them."""

from __future__ import annotations

import dataclasses
from typing import ClassVar

from pyramid.exceptions import ConfigurationError


@dataclasses.dataclass(frozen=True)
class RateLimit:
    """Rate limits (views/ratelimits.py, DESIGN 5.1): calls counted in a window of
    `window_seconds` in Redis. A resident's unsafe calls (POST, PUT, PATCH, DELETE) and QR
    look-ups are counted per resident, whatever the address; only calls without a login (the
    staff login, the LINE login and its callback, QR look-ups) are counted per address, and
    generously (residents share carrier NAT, load tests come from one address). Staff are not
    limited here (the staff login has its own limits, kariya.login.*). 0 turns a rule off."""

    PREFIX: ClassVar[str] = "kariya.rate_limit."

    enabled: bool = True
    window_seconds: int = 60
    per_resident: int = 30  # unsafe calls per resident and window
    qr_per_resident: int = 60  # QR look-ups per resident and window
    per_address: int = 600  # calls without a login per address (IPv6: per /64) and window
    # The routes whose safe calls (GET) are counted too: per resident, the QR look-ups; per
    # address (without a login), these and the LINE login's start and callback.
    qr_routes: tuple[str, ...] = ("api.qr",)
    anonymous_routes: tuple[str, ...] = (
        "api.qr",
        "resident.use",
        "resident.login_line",
        "resident.login_line_callback",
    )

    def check(self) -> None:
        """Refuse numbers that make no sense (kariya.settings.check calls this at start)."""
        if (
            self.window_seconds < 1
            or min(self.per_resident, self.qr_per_resident, self.per_address) < 0
        ):
            raise ConfigurationError(
                "kariya.rate_limit.*: the window must be at least 1 s and no limit negative"
            )
