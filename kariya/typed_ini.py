"""Reading a tree of frozen dataclasses (kariya.settings.Settings and its groups) from ini
values: each field's type says how its text is read, each default is written once on the field,
a bad value stops the start with a ConfigurationError naming its key."""

from __future__ import annotations

import dataclasses
import functools
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pyramid.exceptions import ConfigurationError

_TRUE = ("t", "true", "y", "yes", "on", "1")
_FALSE = ("f", "false", "n", "no", "off", "0")


def _to_bool(text: str) -> bool:
    if text.lower() in _TRUE:
        return True
    if text.lower() in _FALSE:
        return False
    raise ValueError


def _to_int_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(",") if part.strip())


def _to_str_tuple(text: str) -> tuple[str, ...]:
    """Values separated by commas, spaces or new lines (addresses, e-mail addresses)."""
    return tuple(part for part in text.replace(",", " ").split() if part)


_READERS: dict[Any, tuple[typing.Callable[[str], Any], str]] = {
    str: (str, "text"),
    int: (int, "an integer"),
    float: (float, "a number"),
    bool: (_to_bool, "true or false"),
    Path: (Path, "a path"),
    tuple[int, ...]: (_to_int_tuple, "integers separated by commas"),
    tuple[str, ...]: (_to_str_tuple, "values separated by commas or spaces"),
}


def _to_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, tuple):
        return ",".join(str(v) for v in value)
    return str(value)


def _is_group(kind: Any) -> bool:
    return dataclasses.is_dataclass(kind)


@functools.cache
def _fields(cls: Any) -> tuple[tuple[str, str, Any, Any], ...]:
    """(attribute, ini key, type, default) of a group; a group's type is its class."""
    hints = typing.get_type_hints(cls)
    found: list[tuple[str, str, Any, Any]] = []
    for f in dataclasses.fields(cls):
        if f.name == "raw":
            continue
        kind = hints[f.name]
        if _is_group(kind):
            found.append((f.name, kind.PREFIX, kind, None))
        else:
            found.append((f.name, cls.PREFIX + f.name.rstrip("_"), kind, f.default))
    return tuple(found)


def read(key: str, kind: Any, default: Any, value: Any) -> Any:
    if value is None:
        return default
    if not isinstance(value, str):
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, typing.get_origin(kind) or kind):
            return value
        value = str(value)
    text = value.strip()
    if kind is not str and not text:
        return default
    reader, expected = _READERS[kind]
    try:
        return reader(value if kind is str else text)
    except ValueError:
        raise ConfigurationError(f"{key} must be {expected}, not {value!r}") from None


def build(cls: Any, values: Mapping[str, Any]) -> Any:
    kwargs = {}
    for name, key, kind, default in _fields(cls):
        if _is_group(kind):
            kwargs[name] = build(kind, values)
        else:
            kwargs[name] = read(key, kind, default, values.get(key))
    return cls(**kwargs)


def defaults(cls: Any) -> dict[str, str]:
    found = {}
    for _name, key, kind, default in _fields(cls):
        if _is_group(kind):
            found.update(defaults(kind))
        else:
            found[key] = _to_text(default)
    return found
