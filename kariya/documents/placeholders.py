"""The campaign's numbers in a document's text: `{face}`, `{bill_rule}`, `{rounds_table}`, ...

A city-editable text must not run code, so this is no template language: a placeholder is a
name from the fixed list NAMES in braces, replaced by its value (escaped for Markdown, so a
value is printed as written); `{{` and `}}` write a brace. A name not in the list is refused
when the text is saved (`unknown`). Braces around anything else (Japanese, spaces) stay as
written. The table placeholders stand on a line of their own.

The values come from `Facts`: the campaign's rules (kariya.campaign.rules), the call centre
(settings) and the settlement periods the payouts follow. kariya.materials.context builds the
full facts (it knows the payouts); `Facts` here is the same shape, used before a campaign
exists, when every number reads "(未定)".
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Sequence

from kariya.campaign import excluded_items
from kariya.campaign.rules import Rules, yen
from kariya.documents.markdown import escape

PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([a-z][a-z0-9_]*)\}")
UNSET = "(未定)"


@dataclasses.dataclass(frozen=True)
class Facts:
    """What the placeholders say. kariya.materials.context.PrintContext has the same fields."""

    rules: Rules | None
    callcenter_phone: str
    callcenter_hours: str
    settlement_periods: Sequence[str] = ()
    settlements_per_month: int | None = None


def _table(header: Sequence[str], widths: Sequence[int], rows: list[Sequence[str]]) -> str:
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join("-" * w for w in widths) + "|",
    ]
    lines += ["| " + " | ".join(escape(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def _rounds_table(f: Facts) -> str:
    r = f.rules
    rows = [(f"第{x.number}回", r.round_period(x)) for x in r.rounds] if r else []
    return _table(["回", "利用期間(割引券を受け取り、使える期間)"], [5, 27], rows)


def _excluded_table(f: Facts) -> str:
    rows = [(item["label"], item["detail"]) for item in excluded_items.ITEMS]
    return _table(["対象外のもの", "例"], [9, 15], rows)


def _settlement_table(f: Facts) -> str:
    return _table(["精算の対象期間"], [3], [(p,) for p in f.settlement_periods])


# name -> (what it is, as the editor lists it; its value, or None when unknown)
_Value = Callable[[Facts], "str | None"]


def _rule(get: Callable[[Rules], object]) -> _Value:
    return lambda f: None if f.rules is None or not f.rules.rounds else str(get(f.rules))


NAMES: dict[str, tuple[str, _Value]] = {
    "campaign_name": ("事業の名前", _rule(lambda r: r.campaign_name)),
    "period": ("実施期間(2024年1月15日(月)〜2月25日(日))", _rule(lambda r: r.period())),
    "round_count": ("配布の回数", _rule(lambda r: len(r.rounds))),
    "face": ("割引券1枚の額面(500円)", _rule(lambda r: yen(r.face))),
    "per_pack": ("1回に受け取る枚数(4)", _rule(lambda r: r.per_pack)),
    "pack": ("1回に受け取る額(2,000円)", _rule(lambda r: yen(r.pack))),
    "store_limit": ("1店舗で各回に使える枚数(2)", _rule(lambda r: r.store_limit)),
    "min_bill_one": ("1枚使うときのお会計の下限(1,000円)", _rule(lambda r: yen(r.min_bill_one))),
    "min_bill_two": ("2枚同時のお会計の下限(2,000円)", _rule(lambda r: yen(r.min_bill_two))),
    "bill_rule": ("お会計の条件の文", _rule(lambda r: r.bill_rule())),
    "store_limit_rule": ("1店舗で使える枚数の文", _rule(lambda r: r.store_limit_rule())),
    "per_round": ("店舗の上限が数え直される単位(各回(1週間))", _rule(lambda r: r.per_round)),
    "every_round": ("配布の頻度(毎週)", _rule(lambda r: r.every_round)),
    "void_window_minutes": (
        "店舗が利用を取り消せる時間(分)",
        _rule(lambda r: r.void_window_minutes),
    ),
    "fee_sentence": ("振込手数料の負担の文", _rule(lambda r: r.fee_sentence)),
    "callcenter_phone": ("コールセンターの電話番号", lambda f: f.callcenter_phone or None),
    "callcenter_hours": ("コールセンターの受付時間", lambda f: f.callcenter_hours or None),
    "settlements_per_month": (
        "1か月の精算の回数",
        lambda f: None if f.settlements_per_month is None else str(f.settlements_per_month),
    ),
    "rounds_table": ("表: 各回の利用期間(単独の行に書く)", _rounds_table),
    "excluded_items_table": ("表: 割引券で支払えないもの(単独の行に書く)", _excluded_table),
    "settlement_periods_table": ("表: 精算の対象期間(単独の行に書く)", _settlement_table),
    "edition": ("版と公開日(第2版 2024年1月20日公開)", lambda f: "(版ごとに入ります)"),
}

BLOCKS = frozenset({"rounds_table", "excluded_items_table", "settlement_periods_table"})


def unknown(body: str) -> list[str]:
    """The placeholder names in `body` that are not in NAMES, in order of appearance."""
    found: list[str] = []
    for match in PLACEHOLDER.finditer(body):
        name = match.group(1)
        if name and name not in NAMES and name not in found:
            found.append(name)
    return found


def values(facts: Facts, *, edition: str = "") -> dict[str, str]:
    """Each placeholder's text (Markdown), "(未定)" where the facts do not say."""
    found = {}
    for name, (_what, value) in NAMES.items():
        text = value(facts)
        if name in BLOCKS:
            found[name] = text or ""
        else:
            found[name] = escape(text) if text else UNSET
    found["edition"] = escape(edition) if edition else ""
    return found


def substitute(body: str, filled: dict[str, str]) -> str:
    """`body` with every placeholder replaced (an unknown name is left as written)."""

    def replace(match: re.Match) -> str:
        token = match.group(0)
        if token in ("{{", "}}"):
            return token[0]
        return filled.get(match.group(1), token)

    return PLACEHOLDER.sub(replace, body)


def catalogue(facts: Facts) -> list[dict[str, str]]:
    """The list the editor shows: each name, what it is, and its value now (as written)."""
    return [
        {"name": name, "what": what, "value": value(facts) or ("" if name in BLOCKS else UNSET)}
        for name, (what, value) in NAMES.items()
    ]
