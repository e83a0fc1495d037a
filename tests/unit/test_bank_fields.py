"""A store's bank fields as the banks take them (kariya.stores.bank_fields): the Zengin rules for
names and the bank and branch codes of the code list."""

import pytest

from kariya.stores import bank_fields


@pytest.mark.parametrize(
    "typed,expected",
    [
        ("キャノン", "ｷﾔﾉﾝ"),
        ("ヤマダ　タロー", "ﾔﾏﾀﾞ ﾀﾛ-"),
        ("ＡＢＣショウジ", "ABCｼﾖｳｼﾞ"),
        ("やまだ　じろう", "ﾔﾏﾀﾞ ｼﾞﾛｳ"),
        ("ｶ)ﾔﾏﾀﾞ", "ｶ)ﾔﾏﾀﾞ"),
    ],
)
def test_names_are_normalised_as_banks_register_them(typed, expected):
    assert bank_fields.normalize_name(typed, 30) == expected


def test_bank_codes_are_checked_against_the_code_list_and_named():
    bank_fields.check_bank("0001", "001", payee="振込先")
    with pytest.raises(bank_fields.ZenginError, match="振込先: 金融機関コード 0002 は存在しません"):
        bank_fields.check_bank("0002", "001", payee="振込先")
    bank, branch = bank_fields.bank_names("0001", "001")
    assert bank and branch
    assert bank_fields.bank_names("0002", "001") == ("", "")
