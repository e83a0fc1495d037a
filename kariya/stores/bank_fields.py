"""A store's transfer account as the banks take it: the Zengin rules for the account holder's
name (ZENGIN.md, 'Names') and the bank and branch codes of the Zengin code list (zengin-code).

Below both the stores (what is typed in the import and the forms, kariya.stores.normalize) and
the payouts (the change requests, the Zengin file, kariya.payouts.zengin), so that each applies
the same rule and neither imports the other.
"""

from __future__ import annotations

import functools
import re
import unicodedata

import jaconv

from kariya.errors import Invalid

NAME_PATTERN = re.compile(r"^[0-9A-Z ｱ-ﾝﾞﾟ().\-]+$")
SMALL_KANA = str.maketrans("ァィゥェォャュョッヮヵヶヰヱヲ", "アイウエオヤユヨツワカケイエオ")
DASHES = re.compile(r"[ー－‐–—―−～〜…‑]")


class ZenginError(Invalid):
    code = "ZENGIN"


def normalize_name(text: str, max_bytes: int, *, what: str = "名義") -> str:
    """A person's typing of a kana name, as the bank registers it (ZENGIN.md, 'Names')."""
    s = unicodedata.normalize("NFKC", text or "")
    s = jaconv.hira2kata(s).upper().translate(SMALL_KANA)
    s = DASHES.sub("-", s).replace("・", ".")
    s = " ".join(s.split())
    s = jaconv.z2h(s, kana=True, ascii=True, digit=True)
    if not s:
        raise ZenginError(f"{what}が空です。")
    if not NAME_PATTERN.match(s):
        bad = "".join(sorted({c for c in s if not NAME_PATTERN.match(c)}))
        raise ZenginError(
            f"{what}「{text}」に振込で使えない文字があります: {bad}(カナ・英大文字・数字で登録してください)"
        )
    if len(s.encode("cp932")) > max_bytes:
        raise ZenginError(f"{what}「{text}」が長すぎます(半角{max_bytes}文字まで)。")
    return s


@functools.cache
def _banks():
    from zengin_code import Bank  # ~1,100 banks and their branches: loaded once

    return Bank.all


def check_bank(bank_code: str, branch_code: str, *, payee: str) -> None:
    bank = _banks().get(bank_code)
    if bank is None:
        raise ZenginError(f"{payee}: 金融機関コード {bank_code} は存在しません。")
    if branch_code not in bank.branches:
        raise ZenginError(f"{payee}: {bank.name} に支店コード {branch_code} はありません。")


def bank_names(bank_code: str, branch_code: str) -> tuple[str, str]:
    """The bank's and the branch's names from the Zengin code list ("" where unknown)."""
    bank = _banks().get(bank_code or "")
    if bank is None:
        return "", ""
    branch = bank.branches.get(branch_code or "")
    return bank.name, branch.name if branch else ""
