"""The layout stays easy to read (issue 10, DESIGN §1): no module of kariya/, workflows/, views/
or tasks/ over 500 lines, no folder of them with more than 12 modules (besides its
__init__.py); the import rules themselves are import-linter's contracts (`lint-imports`)."""

from __future__ import annotations

import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[2]
PACKAGES = ("kariya", "workflows", "views", "tasks")
MAX_LINES = 500
MAX_MODULES = 12


def _modules():
    for package in PACKAGES:
        yield from sorted((ROOT / package).rglob("*.py"))


def test_no_module_is_over_500_lines():
    long = {
        str(p.relative_to(ROOT)): n
        for p in _modules()
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert long == {}


def test_no_folder_holds_more_than_12_modules():
    folders: dict[str, int] = {}
    for p in _modules():
        if p.name != "__init__.py":
            key = str(p.parent.relative_to(ROOT))
            folders[key] = folders.get(key, 0) + 1
    assert {k: n for k, n in folders.items() if n > MAX_MODULES} == {}
    assert folders  # the walk found the code
