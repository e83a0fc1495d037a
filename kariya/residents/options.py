"""Profile options (age bands, areas), read from kariya/data/profile.toml. The terms version to
agree to is the published `terms` document's (kariya.documents.consent)."""

from __future__ import annotations

import tomllib
from importlib import resources

_data = tomllib.loads(resources.files("kariya").joinpath("data/profile.toml").read_text("utf-8"))

AGE_BANDS: dict[str, str] = {b["code"]: b["label"] for b in _data["age_band"]}
AREAS: dict[str, str] = {a["code"]: a["label"] for a in _data["area"]}


def as_json() -> dict:
    return {
        "age_bands": [{"code": c, "label": lbl} for c, lbl in AGE_BANDS.items()],
        "areas": [{"code": c, "label": lbl} for c, lbl in AREAS.items()],
    }
