"""Zengin general transfer file (総合振込, 種別コード 21): writing, reading back, business days.

The record layout is ../shared/design/ZENGIN.md: fixed 120-byte records (header 1, one data record
per payee 2, trailer 8, end 9), JIS X 0201 via cp932, N fields zero-filled right-aligned, C fields
space-filled left-aligned. Nothing is ever truncated silently: a name that cannot be encoded, or
is too long, stops the export with the payee and the field named. The rules for names and bank
codes are those of every bank field (kariya.stores.bank_fields), used here again at export.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import jpholiday

from kariya.settings import Settings
from kariya.stores.bank_fields import ZenginError, check_bank, normalize_name

RECORD = 120
ACCOUNT_TYPES = {"普通": 1, "当座": 2, "貯蓄": 4, "その他": 9, "1": 1, "2": 2, "4": 4, "9": 9}


def is_business_day(day: dt.date) -> bool:
    if day.weekday() >= 5 or jpholiday.is_holiday(day):
        return False
    return not ((day.month == 12 and day.day == 31) or (day.month == 1 and day.day <= 3))


def next_business_day(day: dt.date, after: int = 1) -> dt.date:
    """The `after`-th bank business day after `day`."""
    while after:
        day += dt.timedelta(days=1)
        after -= is_business_day(day)
    return day


def _n(value: int | str, length: int, what: str) -> bytes:
    text = str(value)
    if not text.isdigit() or len(text) > length:
        raise ZenginError(f"{what} {value} は{length}桁以内の数字ではありません。")
    return text.rjust(length, "0").encode("ascii")


def _c(text: str, length: int) -> bytes:
    raw = (text or "").encode("cp932")
    if len(raw) > length:
        raise ZenginError(f"「{text}」が{length}バイトを超えています。")
    return raw.ljust(length, b" ")


@dataclasses.dataclass(frozen=True)
class Remitter:
    """The operator's own account (the 振込依頼人): settings kariya.zengin.*."""

    code: str
    name_kana: str
    bank_code: str
    branch_code: str
    account_type: int
    account_number: str
    bank_name_kana: str = ""
    branch_name_kana: str = ""

    @classmethod
    def from_settings(cls, settings: Settings) -> Remitter:
        z = settings.zengin
        return cls(
            code=_required(z.remitter_code, "remitter_code"),
            name_kana=_required(z.remitter_name, "remitter_name"),
            bank_code=_required(z.bank_code, "bank_code"),
            branch_code=_required(z.branch_code, "branch_code"),
            account_type=ACCOUNT_TYPES[_required(z.account_type, "account_type")],
            account_number=_required(z.account_number, "account_number"),
            bank_name_kana=z.bank_name,
            branch_name_kana=z.branch_name,
        )


def _required(value: str, key: str) -> str:
    if not value:
        raise ZenginError(f"振込依頼人の設定 kariya.zengin.{key} がありません。")
    return value


@dataclasses.dataclass(frozen=True)
class Payee:
    """One data record: a store and the amount to send it."""

    label: str  # how errors name the payee, e.g. "店舗 D0001 かりや青果店"
    bank_code: str
    branch_code: str
    account_type: str
    account_number: str
    holder_kana: str
    amount: int
    reference1: str = "0"
    reference2: str = "0"
    new_code: int = 0


def header(remitter: Remitter, transfer_date: dt.date) -> bytes:
    rec = (
        b"1"
        + b"21"
        + b"0"
        + _n(remitter.code, 10, "振込依頼人コード")
        + _c(normalize_name(remitter.name_kana, 40, what="振込依頼人名"), 40)
        + transfer_date.strftime("%m%d").encode()
        + _n(remitter.bank_code, 4, "仕向銀行番号")
        + _c(
            remitter.bank_name_kana
            and normalize_name(remitter.bank_name_kana, 15, what="仕向銀行名"),
            15,
        )
        + _n(remitter.branch_code, 3, "仕向支店番号")
        + _c(
            remitter.branch_name_kana
            and normalize_name(remitter.branch_name_kana, 15, what="仕向支店名"),
            15,
        )
        + _n(remitter.account_type, 1, "預金種目")
        + _n(remitter.account_number, 7, "口座番号")
        + b" " * 17
    )
    assert len(rec) == RECORD
    return rec


def data(payee: Payee, transfer_code: str = "7") -> bytes:
    where = payee.label
    if not 1 <= payee.amount <= 9_999_999_999:
        raise ZenginError(f"{where}: 振込金額 {payee.amount:,}円 は送れません。")
    account_type = ACCOUNT_TYPES.get(payee.account_type)
    if account_type is None:
        raise ZenginError(f"{where}: 預金種目「{payee.account_type}」が正しくありません。")
    check_bank(payee.bank_code, payee.branch_code, payee=where)
    try:
        holder = normalize_name(payee.holder_kana, 30, what=f"{where}の口座名義")
        rec = (
            b"2"
            + _n(payee.bank_code, 4, f"{where}の金融機関コード")
            + b" " * 15
            + _n(payee.branch_code, 3, f"{where}の支店コード")
            + b" " * 15
            + b"0000"
            + _n(account_type, 1, "預金種目")
            + _n(payee.account_number, 7, f"{where}の口座番号")
            + _c(holder, 30)
            + _n(payee.amount, 10, "振込金額")
            + _n(payee.new_code, 1, "新規コード")
            + _n(payee.reference1, 10, "顧客コード1")
            + _n(payee.reference2, 10, "顧客コード2")
            + _n(transfer_code, 1, "振込指定区分")
            + b" "
            + b" " * 7
        )
    except ZenginError as exc:
        raise ZenginError(
            exc.message if where in exc.message else f"{where}: {exc.message}"
        ) from None
    assert len(rec) == RECORD
    return rec


def trailer(count: int, total: int) -> bytes:
    return b"8" + _n(count, 6, "合計件数") + _n(total, 12, "合計金額") + b" " * 101


def end() -> bytes:
    return b"9" + b" " * 119


def build(
    remitter: Remitter,
    transfer_date: dt.date,
    payees: list[Payee],
    *,
    separator: bytes = b"\r\n",
    transfer_code: str = "7",
) -> bytes:
    if not is_business_day(transfer_date):
        raise ZenginError(f"振込指定日 {transfer_date:%Y-%m-%d} は銀行の営業日ではありません。")
    if not payees:
        raise ZenginError("振込データがありません。")
    records = [header(remitter, transfer_date)]
    records += [data(p, transfer_code) for p in payees]
    records += [trailer(len(payees), sum(p.amount for p in payees)), end()]
    return b"".join(r + separator for r in records)


@dataclasses.dataclass
class Parsed:
    remitter_code: str
    remitter_name: str
    transfer_mmdd: str
    records: list[dict]
    count: int
    total: int


def parse(raw: bytes) -> Parsed:
    """Read a file back field by field, rejecting what a bank would (ZENGIN.md, 'Trailer')."""
    lines = (
        raw.split(b"\r\n")
        if b"\r\n" in raw
        else [raw[i : i + RECORD] for i in range(0, len(raw), RECORD)]
    )
    if lines and lines[-1] == b"":
        lines.pop()
    if any(len(line) != RECORD for line in lines):
        raise ZenginError("120バイトでないレコードがあります。")
    if not lines or lines[0][:1] != b"1" or lines[-1][:1] != b"9":
        raise ZenginError("ヘッダーまたはエンドレコードがありません。")
    head = lines[0]
    if head[1:3] != b"21" or head[3:4] != b"0":
        raise ZenginError("種別コードが21(総合振込)でないか、コード区分が0ではありません。")
    body, tail = lines[1:-2], lines[-2]
    if tail[:1] != b"8" or any(r[:1] != b"2" for r in body):
        raise ZenginError("データレコードの並びが正しくありません。")

    def text(b: bytes) -> str:
        return b.decode("cp932").rstrip(" ")

    records = [
        {
            "bank_code": r[1:5].decode(),
            "branch_code": r[20:23].decode(),
            "account_type": int(r[42:43]),
            "account_number": r[43:50].decode(),
            "holder": text(r[50:80]),
            "amount": int(r[80:90]),
            "new_code": int(r[90:91]),
            "reference1": r[91:101].decode(),
            "reference2": r[101:111].decode(),
            "transfer_code": r[111:112].decode(),
        }
        for r in body
    ]
    count, total = int(tail[1:7]), int(tail[7:19])
    if count != len(records) or total != sum(r["amount"] for r in records):
        raise ZenginError("トレーラーの合計件数・合計金額がデータと一致しません。")
    return Parsed(
        head[4:14].decode(), text(head[14:54]), head[54:58].decode(), records, count, total
    )
