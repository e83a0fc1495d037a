"""Zengin general transfer file (F-1; ../shared/design/ZENGIN.md): golden file, field-by-field
read-back, names and bank codes at export, business days."""

import datetime as dt
from pathlib import Path

import pytest

from kariya.payouts import zengin
from kariya.payouts.zengin import Payee, Remitter, ZenginError

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "zengin_two_stores.txt"
REMITTER = Remitter(
    code="1234567890",
    name_kana="カリヤシデンシワリビキケンジムキョク",
    bank_code="0001",
    branch_code="001",
    account_type=1,
    account_number="1234567",
)
PAYEES = [
    Payee(
        "店舗 D0001 かりや青果店",
        "0001",
        "004",
        "普通",
        "0000001",
        "カリヤセイカテン",
        12_500,
        reference1="1",
        reference2="7",
    ),
    Payee(
        "店舗 D0002 喫茶みなと",
        "0005",
        "001",
        "当座",
        "7654321",
        "ｶ)ｷｯｻﾐﾅﾄ",
        1_000,
        reference1="2",
        reference2="7",
        new_code=1,
    ),
]
DAY = dt.date(2024, 2, 1)  # a Thursday


def build():
    return zengin.build(REMITTER, DAY, PAYEES)


def test_golden_file():
    """The committed file was checked field by field against ZENGIN.md (see the next test)."""
    assert build() == GOLDEN.read_bytes()


def field(record: bytes, first: int, last: int) -> bytes:
    """Positions are 1-based and inclusive, as in the record layout."""
    return record[first - 1 : last]


def test_every_field_at_its_position():
    records = build().split(b"\r\n")
    assert records[-1] == b""  # CR LF after every record, including the last
    head, d1, d2, tail, end = records[:-1]
    assert all(len(r) == 120 for r in (head, d1, d2, tail, end))
    assert field(head, 1, 1) == b"1" and field(head, 2, 3) == b"21" and field(head, 4, 4) == b"0"
    assert field(head, 5, 14) == b"1234567890"
    assert field(head, 15, 54).decode("cp932").rstrip() == "ｶﾘﾔｼﾃﾞﾝｼﾜﾘﾋﾞｷｹﾝｼﾞﾑｷﾖｸ"
    assert field(head, 55, 58) == b"0201"
    assert field(head, 59, 62) == b"0001" and field(head, 78, 80) == b"001"
    assert field(head, 96, 96) == b"1" and field(head, 97, 103) == b"1234567"
    assert field(head, 104, 120) == b" " * 17

    assert field(d1, 1, 1) == b"2" and field(d1, 2, 5) == b"0001" and field(d1, 21, 23) == b"004"
    assert (
        field(d1, 39, 42) == b"0000"
        and field(d1, 43, 43) == b"1"
        and field(d1, 44, 50) == b"0000001"
    )
    assert field(d1, 51, 80).decode("cp932").rstrip() == "ｶﾘﾔｾｲｶﾃﾝ"
    assert field(d1, 81, 90) == b"0000012500"
    assert (
        field(d1, 91, 91) == b"0"
        and field(d1, 92, 101) == b"0000000001"
        and field(d1, 102, 111) == b"0000000007"
    )
    assert field(d1, 112, 112) == b"7" and field(d1, 113, 120) == b" " * 8
    assert field(d2, 43, 43) == b"2" and field(d2, 51, 80).decode("cp932").rstrip() == "ｶ)ｷﾂｻﾐﾅﾄ"
    assert field(d2, 91, 91) == b"1"

    assert (
        field(tail, 1, 1) == b"8"
        and field(tail, 2, 7) == b"000002"
        and field(tail, 8, 19) == b"000000013500"
    )
    assert end == b"9" + b" " * 119


def test_read_back_field_by_field():
    parsed = zengin.parse(build())
    assert (parsed.remitter_code, parsed.transfer_mmdd, parsed.count, parsed.total) == (
        "1234567890",
        "0201",
        2,
        13_500,
    )
    assert [
        (
            r["bank_code"],
            r["branch_code"],
            r["account_type"],
            r["account_number"],
            r["holder"],
            r["amount"],
        )
        for r in parsed.records
    ] == [
        ("0001", "004", 1, "0000001", "ｶﾘﾔｾｲｶﾃﾝ", 12_500),
        ("0005", "001", 2, "7654321", "ｶ)ｷﾂｻﾐﾅﾄ", 1_000),
    ]


def test_reader_rejects_a_trailer_that_does_not_match():
    raw = bytearray(build())
    tail_at = 3 * 122
    raw[tail_at + 7 : tail_at + 19] = b"000000013501"
    with pytest.raises(ZenginError, match="一致しません"):
        zengin.parse(bytes(raw))
    with pytest.raises(ZenginError, match="120バイト"):
        zengin.parse(build().replace(b"\r\n", b"\r\n ", 1))


def test_unencodable_or_long_names_stop_the_export_naming_store_and_field():
    bad = Payee("店舗 D0009 山田商店", "0001", "004", "普通", "1", "山田商店", 500)
    with pytest.raises(ZenginError, match="店舗 D0009 山田商店.*口座名義.*使えない文字"):
        zengin.build(REMITTER, DAY, [bad])
    long = Payee("店舗 D0010", "0001", "004", "普通", "1", "ア" * 31, 500)
    with pytest.raises(ZenginError, match="店舗 D0010.*長すぎます"):
        zengin.build(REMITTER, DAY, [long])


def test_bank_and_branch_codes_are_checked_against_the_code_list():
    with pytest.raises(ZenginError, match="金融機関コード 0002 は存在しません"):
        zengin.build(REMITTER, DAY, [Payee("店舗 X", "0002", "001", "普通", "1", "ｱ", 500)])
    with pytest.raises(ZenginError, match="支店コード 999"):
        zengin.build(REMITTER, DAY, [Payee("店舗 X", "0001", "999", "普通", "1", "ｱ", 500)])


def test_zero_yen_and_non_business_days_are_refused():
    with pytest.raises(ZenginError, match="0円"):
        zengin.build(REMITTER, DAY, [Payee("店舗 X", "0001", "004", "普通", "1", "ｱ", 0)])
    with pytest.raises(ZenginError, match="営業日ではありません"):
        zengin.build(
            REMITTER, dt.date(2024, 2, 11), PAYEES
        )  # a Sunday (and National Foundation Day)
    assert zengin.next_business_day(dt.date(2023, 12, 29)) == dt.date(2024, 1, 4)
    assert zengin.next_business_day(dt.date(2024, 1, 5)) == dt.date(2024, 1, 9)  # Coming of Age Day
