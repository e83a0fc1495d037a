"""What coupons may not pay for (I-8), read from kariya/data/excluded_items.toml: one list for the
residents' page, the store manual and the call centre."""

from __future__ import annotations

import tomllib
from importlib import resources

ITEMS: list[dict[str, str]] = tomllib.loads(
    resources.files("kariya").joinpath("data/excluded_items.toml").read_text("utf-8")
)["item"]
