"""What people type, folded into one form: full-/half-width, kana, codes, phone numbers.

Each function takes the text as typed (or a number, as a spreadsheet cell may hold it) and returns
the normalised text, or raises NormalizeError with a Japanese message saying what is wrong. Empty
input gives "" (whether a value is required is the caller's rule).
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata

import jaconv

from kariya.errors import DomainError
from kariya.stores import bank_fields

# Hyphens, dashes and minus signs people use in numbers (after NFKC, which already maps the
# full-width hyphen-minus U+FF0D to "-"). The long-vowel marks are included: "０５６６ー２３"
# is a common way to type a phone number on a Japanese keyboard.
DASHES = "‐‑‒–—―−ｰー─━﹣~〜～"
_DASH_RE = re.compile(f"[{re.escape(DASHES)}]")
_SPACES_RE = re.compile(r"\s+")
# Katakana names: katakana (with the long-vowel mark and the middle dot), Latin letters, digits,
# spaces and the few signs store names use.
_KATAKANA_NAME_RE = re.compile(r"^[\u30a1-\u30fa\u30fc\u30fb\u30fd\u30fe A-Za-z0-9&'.,()/-]+$")
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_CODE_RE = re.compile(r"^[0-9A-Z][0-9A-Z_-]*$")
_POSTAL_PREFIX_RE = re.compile(
    rf"^(〒)?\s*(\d{{3}})\s*([-{re.escape(DASHES)}])?\s*(\d{{4}})(?!\d)\s*(.*)$"
)

ACCOUNT_TYPES = {
    "普通": "普通",
    "普通預金": "普通",
    "普": "普通",
    "1": "普通",
    "当座": "当座",
    "当座預金": "当座",
    "当": "当座",
    "2": "当座",
}


class NormalizeError(DomainError):
    code = "INVALID"
    status = 422


def cell_text(value) -> str:
    """A spreadsheet cell as text: integral numbers without ".0", times as HH:MM."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M") if value.time() else value.strftime("%Y-%m-%d")
    if isinstance(value, dt.time):
        return value.strftime("%H:%M")
    return str(value)


def nfkc(value) -> str:
    """NFKC (full-width ASCII and digits to half-width, half-width kana to full-width), with
    runs of white space (full-width spaces and line breaks too) made one space, ends trimmed."""
    return _SPACES_RE.sub(" ", unicodedata.normalize("NFKC", cell_text(value))).strip()


def fold(value) -> str:
    """The ways people type Japanese folded into one, for matching rather than showing: NFKC
    (half-width kana to full-width, full-width ASCII to half-width), hiragana to katakana, no
    white space. The case is the caller's (search keys are lower case, column headings upper)."""
    return "".join(jaconv.hira2kata(unicodedata.normalize("NFKC", cell_text(value))).split())


def text(value, *, max_length: int | None = None, what: str = "値") -> str:
    """Free text shown to people (names, addresses, hours)."""
    result = nfkc(value)
    if max_length is not None and len(result) > max_length:
        raise NormalizeError(f"{what}が長すぎます({max_length}文字まで)。")
    return result


def hours(value, *, max_length: int = 200) -> str:
    """Opening hours: "10：00～19：00" -> "10:00〜19:00"."""
    return re.sub(r"\s*[~～〜]\s*", "〜", text(value, max_length=max_length, what="営業時間"))


def katakana(value, *, max_length: int | None = None, what: str = "カナ") -> str:
    """A reading in full-width katakana: half-width kana and hiragana are converted; a hyphen
    after a kana is taken for the long-vowel mark."""
    result = jaconv.hira2kata(nfkc(value))
    result = re.sub(r"(?<=[\u30a1-\u30fc])[-‐‑‒–—―−]", "ー", result)
    if not result:
        return ""
    if not _KATAKANA_NAME_RE.match(result):
        bad = "".join(sorted({c for c in result if not _KATAKANA_NAME_RE.match(c)}))
        raise NormalizeError(f"{what}はカタカナで入力してください(使えない文字: {bad})。")
    if max_length is not None and len(result) > max_length:
        raise NormalizeError(f"{what}が長すぎます({max_length}文字まで)。")
    return result


def code(value, *, max_length: int = 20, what: str = "コード") -> str:
    """An identifier such as a store code: half-width, upper case, no spaces."""
    result = _SPACES_RE.sub("", nfkc(value)).upper()
    if not result:
        return ""
    if not _CODE_RE.match(result):
        raise NormalizeError(f"{what}「{result}」は英数字(とハイフン)で入力してください。")
    if len(result) > max_length:
        raise NormalizeError(f"{what}が長すぎます({max_length}文字まで)。")
    return result


def digits(value, width: int, *, what: str) -> str:
    """A fixed-width number (bank code 4, branch code 3, account number 7), zero-padded:
    "１" -> "0001" for width 4."""
    result = _SPACES_RE.sub("", nfkc(value))
    result = _DASH_RE.sub("", result).replace("-", "")
    if not result:
        return ""
    if not result.isascii() or not result.isdigit():
        raise NormalizeError(f"{what}は数字で入力してください。")
    if len(result) > width:
        raise NormalizeError(f"{what}は{width}桁以内の数字です。")
    return result.zfill(width)


def _dashed(value) -> str:
    s = _DASH_RE.sub("-", nfkc(value))
    s = re.sub(r"[()\s]+", "-", s)
    return re.sub(r"-{2,}", "-", s).strip("-")


def phone(value) -> str:
    """A Japanese phone number as digits and hyphens: "０５６６－２３－１１１１" ->
    "0566-23-1111", "(0566)23-1111" -> "0566-23-1111". A leading zero lost in a numeric cell
    is put back. Digits alone stay digits alone (where to hyphenate depends on the area code)."""
    s = _dashed(value).removeprefix("TEL").removeprefix("tel").strip("-:. ")
    if not s:
        return ""
    if not re.fullmatch(r"[0-9-]+", s):
        raise NormalizeError("電話番号は数字とハイフンで入力してください。")
    number = s.replace("-", "")
    if not number.startswith("0") and len(number) in (9, 10):
        s, number = "0" + s, "0" + number  # a numeric cell dropped the leading zero
    if not number.startswith("0") or len(number) not in (10, 11):
        raise NormalizeError(f"電話番号「{s}」の桁数が正しくありません(市外局番から10〜11桁)。")
    return s


def postal_code(value) -> str:
    """ "〒４４８－８５０１" or "4488501" -> "448-8501"."""
    s = _dashed(value).lstrip("〒").strip("- ")
    if not s:
        return ""
    number = s.replace("-", "")
    if not re.fullmatch(r"\d{7}", number):
        raise NormalizeError(f"郵便番号「{s}」は7桁の数字で入力してください。")
    return f"{number[:3]}-{number[3:]}"


def address(value, *, max_length: int = 300) -> str:
    """An address; a postal code written at its start is normalised too
    ("〒４４８－８５０１　刈谷市…" -> "〒448-8501 刈谷市…")."""
    s = text(value, max_length=max_length, what="住所")
    match = _POSTAL_PREFIX_RE.match(s)
    if match and (match.group(1) or match.group(3)):
        s = f"〒{match.group(2)}-{match.group(4)} {match.group(5)}".strip()
    return s


def account_type(value) -> str:
    """普通 or 当座 (1/2, 普/当, 普通預金/当座預金 accepted)."""
    s = _SPACES_RE.sub("", nfkc(value))
    if not s:
        return ""
    result = ACCOUNT_TYPES.get(s)
    if result is None:
        raise NormalizeError(f"預金種目「{s}」は「普通」か「当座」で入力してください。")
    return result


def account_holder(value, *, max_bytes: int = 30) -> str:
    """An account holder's name as banks register it: half-width katakana, upper-case letters,
    digits and the few signs allowed in a Zengin transfer ("ｶ)ｶﾘﾔｼﾖｳﾃﾝ")."""
    if not nfkc(value):
        return ""
    try:
        return bank_fields.normalize_name(cell_text(value), max_bytes, what="口座名義カナ")
    except bank_fields.ZenginError as exc:
        raise NormalizeError(exc.message) from None


# A store's transfer account field by field (the store import and the change requests).
BANK_ACCOUNT = {
    "bank_code": lambda v: digits(v, 4, what="金融機関コード"),
    "branch_code": lambda v: digits(v, 3, what="支店コード"),
    "account_type": account_type,
    "account_number": lambda v: digits(v, 7, what="口座番号"),
    "account_holder_kana": account_holder,
}


def email(value, *, max_length: int = 254) -> str:
    s = _SPACES_RE.sub("", nfkc(value))
    if not s:
        return ""
    if not _EMAIL_RE.match(s) or len(s) > max_length:
        raise NormalizeError(f"メールアドレス「{s}」の形式が正しくありません。")
    local, _, domain = s.rpartition("@")
    return f"{local}@{domain.lower()}"


def header(value) -> str:
    """A column heading folded for matching: "店舗名（カナ）※必須" and "店舗名 カナ" both give
    "店舗名カナ"; "TEL" and "tel" both give "TEL"."""
    s = fold(value).upper()
    s = re.sub(r"[((\[【<]?必須[))\]】>]?", "", s)
    return re.sub(r"[\s※*()\[\]【】「」<>::]", "", s)
