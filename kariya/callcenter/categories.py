"""The configured list of inquiry categories (kariya/data/inquiry_categories.toml)."""

from __future__ import annotations

import dataclasses
import re
import tomllib
import unicodedata
from importlib import resources


@dataclasses.dataclass(frozen=True)
class Category:
    code: str
    label: str
    topic: str
    escalate: bool = False


def _load() -> tuple[dict[str, Category], dict[str, str]]:
    data = tomllib.loads(
        resources.files("kariya").joinpath("data/inquiry_categories.toml").read_text("utf-8")
    )
    found: dict[str, Category] = {}
    aliases: dict[str, str] = {}
    for entry in data["category"]:
        category = Category(
            code=entry["code"],
            label=entry["label"],
            topic=entry.get("topic", entry["code"]),
            escalate=bool(entry.get("escalate", False)),
        )
        found[category.code] = category
        for alias in [category.code, category.label, *entry.get("aliases", [])]:
            aliases[_key(alias)] = category.code
    return found, aliases


def _key(text: str) -> str:
    folded = unicodedata.normalize("NFKC", text).strip().lower()
    return re.sub(r"[\s\-/・&]+", "_", folded)


CATEGORIES, _ALIASES = _load()


def parse(value) -> str | None:
    """The category code for what was given (its code, label or an alias), or None."""
    if not isinstance(value, str):
        return None
    return _ALIASES.get(_key(value))


def label(code: str) -> str:
    category = CATEGORIES.get(code)
    return category.label if category else code


def choices() -> list[Category]:
    return list(CATEGORIES.values())
