"""Folding what people type (kariya/stores/normalize.py), for the store import (S-1) and
anywhere else a code, a kana name or a phone number is typed."""

import datetime as dt

import pytest

from kariya.stores import normalize
from kariya.stores.normalize import NormalizeError


@pytest.mark.parametrize(
    "typed, expected",
    [
        ("０５６６－２３－１１１１", "0566-23-1111"),  # full-width digits and hyphen
        ("0566ー23ー1111", "0566-23-1111"),  # the long-vowel mark typed for a hyphen
        ("0566−23−1111", "0566-23-1111"),  # minus sign
        ("0566‐23‐1111", "0566-23-1111"),  # hyphen U+2010
        ("0566ｰ23ｰ1111", "0566-23-1111"),  # half-width long-vowel mark
        ("(0566)23-1111", "0566-23-1111"),
        ("０５６６（２３）１１１１", "0566-23-1111"),
        ("0566 23 1111", "0566-23-1111"),
        ("TEL：0566-23-1111", "0566-23-1111"),
        ("090-1234-5678", "090-1234-5678"),
        ("0566231111", "0566231111"),  # digits alone stay digits alone
        (566231111, "0566231111"),  # a numeric cell lost the leading zero
        (566231111.0, "0566231111"),
        ("", ""),
        (None, ""),
    ],
)
def test_phone_numbers(typed, expected):
    """S-1: phone numbers as digits and hyphens, whatever the keyboard produced."""
    assert normalize.phone(typed) == expected


@pytest.mark.parametrize(
    "typed", ["0566-23-111", "05662311112222", "お問い合わせ", "0566-23-1111内線2"]
)
def test_phone_numbers_that_cannot_be_right(typed):
    with pytest.raises(NormalizeError) as exc:
        normalize.phone(typed)
    assert "電話番号" in exc.value.message


@pytest.mark.parametrize(
    "typed, expected",
    [
        ("ｶﾘﾔｾｲｶﾃﾝ", "カリヤセイカテン"),  # half-width kana
        ("かりや せいかてん", "カリヤ セイカテン"),  # hiragana, spaces kept single
        ("カリヤ　　セイカテン", "カリヤ セイカテン"),  # full-width spaces
        ("ﾊﾟﾃｨｽﾘｰ", "パティスリー"),  # voiced marks recombined
        ("パティスリ-", "パティスリー"),  # a hyphen after kana is the long-vowel mark
        ("ＡＢＣストア", "ABCストア"),
    ],
)
def test_katakana_names(typed, expected):
    """S-1: kana names become full-width katakana."""
    assert normalize.katakana(typed) == expected


def test_katakana_refuses_kanji():
    with pytest.raises(NormalizeError) as exc:
        normalize.katakana("刈谷商店", what="店舗名カナ")
    assert "店舗名カナはカタカナで入力してください" in exc.value.message


@pytest.mark.parametrize(
    "typed, expected",
    [
        ("カリヤショウテン", "ｶﾘﾔｼﾖｳﾃﾝ"),  # small kana become large, as banks register names
        ("かりや　たろう", "ｶﾘﾔ ﾀﾛｳ"),
        ("ｶ)ｶﾘﾔｼｮｳﾃﾝ", "ｶ)ｶﾘﾔｼﾖｳﾃﾝ"),
        ("カ）カリヤ", "ｶ)ｶﾘﾔ"),  # full-width bracket
        ("ｶﾘﾔ abc", "ｶﾘﾔ ABC"),  # letters upper case
    ],
)
def test_account_holder_names_use_the_bank_transfer_characters(typed, expected):
    """S-1, F-1: the account holder as the Zengin file needs it (half-width kana, upper case)."""
    assert normalize.account_holder(typed) == expected


def test_account_holder_refuses_kanji_and_long_names():
    with pytest.raises(NormalizeError) as exc:
        normalize.account_holder("刈谷太郎")
    assert "振込で使えない文字" in exc.value.message
    with pytest.raises(NormalizeError):
        normalize.account_holder("ア" * 31)


@pytest.mark.parametrize(
    "typed, width, expected",
    [
        ("１５６０", 4, "1560"),
        (1, 4, "0001"),
        ("3", 3, "003"),
        (1234, 7, "0001234"),
        ("12 34", 7, "0001234"),
    ],
)
def test_fixed_width_codes_are_zero_padded(typed, width, expected):
    """S-1: bank code 4 digits, branch code 3, account number 7."""
    assert normalize.digits(typed, width, what="番号") == expected


@pytest.mark.parametrize("typed", ["12345", "12a", "壱"])
def test_fixed_width_codes_refuse_wrong_values(typed):
    with pytest.raises(NormalizeError) as exc:
        normalize.digits(typed, 4, what="金融機関コード")
    assert "金融機関コード" in exc.value.message


@pytest.mark.parametrize(
    "typed, expected",
    [
        ("普通", "普通"),
        ("普通預金", "普通"),
        ("普", "普通"),
        (1, "普通"),
        ("１", "普通"),
        ("当座", "当座"),
        ("当", "当座"),
        ("2", "当座"),
        ("", ""),
    ],
)
def test_account_types(typed, expected):
    assert normalize.account_type(typed) == expected


def test_account_type_refuses_others():
    with pytest.raises(NormalizeError) as exc:
        normalize.account_type("定期")
    assert "「普通」か「当座」" in exc.value.message


@pytest.mark.parametrize(
    "typed, expected",
    [
        ("〒４４８－８５０１", "448-8501"),
        ("4488501", "448-8501"),
        (4488501, "448-8501"),
        ("448ー8501", "448-8501"),
    ],
)
def test_postal_codes(typed, expected):
    assert normalize.postal_code(typed) == expected


def test_postal_code_refuses_wrong_length():
    with pytest.raises(NormalizeError):
        normalize.postal_code("448-850")


def test_address_normalises_a_leading_postal_code():
    assert (
        normalize.address("〒４４８－８５０１　刈谷市東陽町１－１") == "〒448-8501 刈谷市東陽町1-1"
    )
    assert normalize.address("刈谷市桜町１丁目１－１") == "刈谷市桜町1丁目1-1"


def test_codes_are_half_width_upper_case():
    assert normalize.code(" ｄ０００１ ") == "D0001"
    assert normalize.code(1001.0) == "1001"
    with pytest.raises(NormalizeError):
        normalize.code("店001", what="店舗コード")


def test_free_text_and_hours():
    assert normalize.text("  そば処　　ふじまつ\n") == "そば処 ふじまつ"
    assert normalize.hours("10：00～19：00") == "10:00〜19:00"
    assert normalize.hours(dt.time(10, 0)) == "10:00"
    with pytest.raises(NormalizeError) as exc:
        normalize.text("あ" * 201, max_length=200, what="店舗名")
    assert "店舗名が長すぎます" in exc.value.message


def test_email():
    assert normalize.email("Ｔａｒｏ@Example.JP") == "Taro@example.jp"
    with pytest.raises(NormalizeError):
        normalize.email("taro@")


@pytest.mark.parametrize(
    "typed",
    [
        "店舗名カナ",
        "店舗名（カナ）",
        " 店舗名 カナ ",
        "店舗名カナ※必須",
        "店舗名(カナ)【必須】",
        "店舗名\nカナ",
    ],
)
def test_headers_fold_spaces_brackets_and_width(typed):
    assert normalize.header(typed) == "店舗名カナ"


def test_headers_fold_case_and_hiragana():
    assert normalize.header("ｔｅｌ") == normalize.header("TEL") == "TEL"
    assert normalize.header("ふりがな") == "フリガナ"
