"""Profile options (age bands, areas, terms version), read from kariya/data/profile.toml."""

from __future__ import annotations

import tomllib
from importlib import resources

_data = tomllib.loads(resources.files("kariya").joinpath("data/profile.toml").read_text("utf-8"))

TERMS_VERSION: str = _data["terms_version"]
AGE_BANDS: dict[str, str] = {b["code"]: b["label"] for b in _data["age_band"]}
AREAS: dict[str, str] = {a["code"]: a["label"] for a in _data["area"]}


def as_json() -> dict:
    return {
        "age_bands": [{"code": c, "label": lbl} for c, lbl in AGE_BANDS.items()],
        "areas": [{"code": c, "label": lbl} for c, lbl in AREAS.items()],
        "terms_version": TERMS_VERSION,
    }
