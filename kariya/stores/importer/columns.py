"""The columns of the store list: headings and their aliases, what the import accepts per
column (categories, areas) and how each value is normalised."""

from __future__ import annotations

import dataclasses
import re
import tomllib
from collections.abc import Callable
from importlib import resources

from kariya.residents.options import AREAS
from kariya.stores import normalize
from kariya.stores.normalize import NormalizeError


@dataclasses.dataclass(frozen=True)
class Column:
    key: str  # the Store attribute ("postal_code" is folded into the address)
    header: str  # the canonical heading (DESIGN.md section 5)
    required: bool  # the column must be present and every row must fill it
    aliases: tuple[str, ...] = ()


COLUMNS = (
    Column("code", "店舗コード", True, ("店舗CD", "店舗番号", "店コード", "店番号", "コード")),
    Column("name", "店舗名", True, ("店名", "店舗名称", "名称", "屋号", "店舗の名称")),
    Column(
        "kana",
        "店舗名カナ",
        True,
        (
            "店名カナ",
            "店舗名フリガナ",
            "店舗名ヨミガナ",
            "フリガナ",
            "ヨミガナ",
            "カナ",
            "店舗カナ",
        ),
    ),
    Column("category", "業種", True, ("業態", "カテゴリ", "カテゴリー", "分類", "業種名")),
    Column("area", "地区", True, ("地区名", "地域", "エリア")),
    Column("address", "住所", True, ("所在地", "店舗住所", "店舗所在地")),
    Column("phone", "電話番号", False, ("電話", "TEL", "TEL番号", "店舗電話番号", "電話番号TEL")),
    Column("hours", "営業時間", False, ("営業時間帯",)),
    Column("bank_code", "金融機関コード", False, ("銀行コード", "金融機関番号", "金融機関CD")),
    Column("branch_code", "支店コード", False, ("支店番号", "店番", "支店CD")),
    Column("account_type", "預金種目", False, ("口座種別", "預金種別", "口座種目", "種目")),
    Column("account_number", "口座番号", False, ()),
    Column(
        "account_holder_kana",
        "口座名義カナ",
        False,
        ("口座名義", "口座名義人", "口座名義人カナ", "名義カナ", "口座名義フリガナ"),
    ),
    Column("email", "メールアドレス", False, ("メール", "EMAIL", "E-MAIL", "MAIL", "Eメール")),
)
POSTAL = Column("postal_code", "郵便番号", False, ("〒",))
HEADERS = [c.header for c in COLUMNS]
BY_KEY = {c.key: c for c in (*COLUMNS, POSTAL)}
BANK_FIELDS = ("bank_code", "branch_code", "account_type", "account_number", "account_holder_kana")
FIELDS = [c.key for c in COLUMNS]
TEXT_FORMAT_COLUMNS = ("code", "phone", "bank_code", "branch_code", "account_number")

_HEADER_KEYS: dict[str, str] = {}
for _column in (*COLUMNS, POSTAL):
    for _name in (_column.header, *_column.aliases):
        _HEADER_KEYS[normalize.header(_name)] = _column.key


# --- what the import accepts (configuration, not code) ---------------------------------------


def _fold(value) -> str:
    return re.sub(r"\s", "", normalize.nfkc(value)).upper()


def _load_categories() -> tuple[list[str], dict[str, str]]:
    data = tomllib.loads(
        resources.files("kariya").joinpath("data/store_categories.toml").read_text("utf-8")
    )
    names = list(data["categories"])
    lookup = {_fold(n): n for n in names}
    for alias, target in data.get("aliases", {}).items():
        if target not in names:
            raise ValueError(f"store_categories.toml: alias {alias!r} -> unknown {target!r}")
        lookup.setdefault(_fold(alias), target)
    return names, lookup


CATEGORIES, _CATEGORY_LOOKUP = _load_categories()


def _area_lookup() -> dict[str, str]:
    lookup = {}
    for code, label in AREAS.items():
        for name in (code, label, label.removesuffix("地区")):
            lookup.setdefault(_fold(name), code)
    return lookup


_AREA_LOOKUP = _area_lookup()


def category(value) -> str:
    s = normalize.nfkc(value)
    if not s:
        return ""
    found = _CATEGORY_LOOKUP.get(_fold(s))
    if found is None:
        raise NormalizeError(
            f"業種「{s}」は登録できる業種ではありません(「{'」「'.join(CATEGORIES)}」のいずれか)。"
        )
    return found


def area(value) -> str:
    """An area by its label ("刈谷地区", "刈谷") or code ("kariya"); stored as the code."""
    s = normalize.nfkc(value)
    if not s:
        return ""
    found = _AREA_LOOKUP.get(_fold(s))
    if found is None:
        raise NormalizeError(
            f"地区「{s}」は登録できる地区ではありません(「{'」「'.join(AREAS.values())}」のいずれか)。"
        )
    return found


NORMALIZERS: dict[str, Callable[[object], str]] = {
    "code": lambda v: normalize.code(v, max_length=20, what="店舗コード"),
    "name": lambda v: normalize.text(v, max_length=200, what="店舗名"),
    "kana": lambda v: normalize.katakana(v, max_length=200, what="店舗名カナ"),
    "category": category,
    "area": area,
    "address": lambda v: normalize.address(v, max_length=300),
    "postal_code": normalize.postal_code,
    "phone": normalize.phone,
    "hours": normalize.hours,
    **normalize.BANK_ACCOUNT,
    "email": normalize.email,
}


def display(key: str, value: str) -> str:
    """A stored value as the secretariat reads it (areas by their label)."""
    if key == "area":
        return AREAS.get(value, value)
    return value
