"""The resident's reference number (DESIGN §5.1 `ref`, the `person_ref` of the staff JSON and the
exports): twelve random digits, the last a check digit, shown as 1234-5678-9012 on the help page
so a resident can read it out on the phone. Random, never derived from the LINE user id, so it
says nothing about the person; the check digit catches a misheard digit or two swapped ones."""

from __future__ import annotations

import secrets
import unicodedata

LENGTH = 12


def check_digit(body: str) -> str:
    """Luhn's check digit: catches any single wrong digit and most swaps of neighbours."""
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return str((10 - total % 10) % 10)


def new_ref() -> str:
    body = "".join(secrets.choice("0123456789") for _ in range(LENGTH - 1))
    return body + check_digit(body)


def display(ref: str | None) -> str:
    """1234-5678-9012 (a pseudonymised row's ref is shown as it is)."""
    if not ref or len(ref) != LENGTH or not ref.isdigit():
        return ref or ""
    return f"{ref[:4]}-{ref[4:8]}-{ref[8:]}"


def parse(text: str | None) -> str | None:
    """A ref as typed or read out (full-width digits, dashes, spaces); None unless it is twelve
    digits with a right check digit."""
    digits = "".join(ch for ch in unicodedata.normalize("NFKC", text or "") if ch.isdigit())
    if len(digits) != LENGTH or not digits.isascii():
        return None
    return digits if check_digit(digits[:-1]) == digits[-1] else None
