"""A resident's timeline in plain Japanese, for an agent to read to the caller: each round's
acquisition, each use (and its void), a store's QR locked for the day by wrong staff PINs,
each round's coupons that expired or will expire ("第1回の割引券2枚は1月21日24時に期限切れ"),
an account transfer; each entry with the passage of the answer manual that explains it
(kariya.callcenter.answers)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kariya.callcenter import answers
from kariya.campaign.models import Campaign, Round
from kariya.clock import JST
from kariya.coupons.models import Acquisition, Coupon
from kariya.documents.markdown import Section
from kariya.redemptions import till
from kariya.redemptions.models import Redemption
from kariya.residents import refs
from kariya.residents.models import Person
from kariya.stores.models import Store
from workflows import coupon as coupon_wf

WEEKDAYS = "月火水木金土日"


@dataclasses.dataclass(frozen=True)
class Entry:
    at: dt.datetime
    text: str
    topic: str
    upcoming: bool = False
    passage: Section | None = None  # of the published answer manual


def moment(value: dt.datetime, zone: ZoneInfo = JST) -> str:
    """1月21日24時 for the midnight that ends the 21st; 1月16日 12:30 otherwise."""
    local = value.astimezone(zone)
    if local.hour == local.minute == local.second == 0:
        day = local - dt.timedelta(days=1)
        return f"{day.month}月{day.day}日24時"
    return f"{local.month}月{local.day}日 {local:%H:%M}"


def _yen(value: int) -> str:
    return f"{value:,}円"


def build(
    db: Session, person: Person, now: dt.datetime, manual: answers.Manual | None = None
) -> list[Entry]:
    """The entries, oldest first, each with the passage of `manual` that explains it."""
    zone = JST
    entries: list[Entry] = []
    rounds = {
        rnd.id: (rnd, campaign)
        for rnd, campaign in db.execute(
            select(Round, Campaign)
            .join(Campaign, Campaign.id == Round.campaign_id)
            .join(Acquisition, Acquisition.round_id == Round.id)
            .where(Acquisition.person_id == person.id)
        )
    }
    for acquisition in db.scalars(select(Acquisition).where(Acquisition.person_id == person.id)):
        rnd, campaign = rounds[acquisition.round_id]
        count = acquisition.amount // campaign.coupon_face
        entries.append(
            Entry(
                acquisition.created_at,
                f"{moment(acquisition.created_at, zone)} 第{rnd.number}回の割引券{count}枚"
                f"({_yen(acquisition.amount)}分)を受け取りました",
                "acquisition",
            )
        )
    for use, store in db.execute(
        select(Redemption, Store)
        .join(Store, Store.id == Redemption.store_id)
        .where(Redemption.person_id == person.id)
    ):
        rnd, _campaign = rounds.get(use.round_id, (None, None))
        which = f"第{rnd.number}回の" if rnd else ""
        entries.append(
            Entry(
                use.used_at,
                f"{moment(use.used_at, zone)} {store.name}({store.code})で{which}割引券"
                f"{use.coupons}枚({_yen(use.amount)})を利用(お会計{_yen(use.bill_amount)}、"
                f"確認コード {use.confirmation_code})",
                "use",
            )
        )
        if use.voided_at is not None:
            entries.append(
                Entry(
                    use.voided_at,
                    f"{moment(use.voided_at, zone)} {store.name}での利用(確認コード "
                    f"{use.confirmation_code})が取り消され、割引券{use.coupons}枚が戻りました",
                    "void",
                )
            )
    for lock, store in till.locks_of(db, person.id):
        entries.append(
            Entry(
                lock.locked_at,
                f"{moment(lock.locked_at, zone)} {store.name}({store.code})で、お店の暗証番号の"
                f"入力を続けてまちがえたため、{till.day_label(lock.day)}はこのお店で使えなく"
                "なりました(翌日からは使えます)",
                "use",
            )
        )
    counts = db.execute(
        select(Coupon.round_id, Coupon.state, func.count())
        .where(Coupon.person_id == person.id)
        .group_by(Coupon.round_id, Coupon.state)
    ).all()
    for round_id, state, n in counts:
        if round_id not in rounds:
            continue
        rnd, _campaign = rounds[round_id]
        if state == coupon_wf.S.expired:
            entries.append(
                Entry(
                    rnd.ends,
                    f"第{rnd.number}回の割引券{n}枚は{moment(rnd.ends, zone)}に期限切れ",
                    "expiry",
                )
            )
        elif state == coupon_wf.S.issued and rnd.ends > now:
            entries.append(
                Entry(
                    rnd.ends,
                    f"第{rnd.number}回の未使用の割引券{n}枚は{moment(rnd.ends, zone)}に"
                    "期限切れになります",
                    "expiry",
                    upcoming=True,
                )
            )
    if person.blocked_at is not None:
        successor = db.get(Person, person.successor_id) if person.successor_id else None
        to = f"お客さま番号 {refs.display(successor.ref)}" if successor else "新しいアカウント"
        entries.append(
            Entry(
                person.blocked_at,
                f"{moment(person.blocked_at, zone)} 割引券と利用履歴を{to}へ移行しました"
                "(このアカウントは利用できません)",
                "transfer",
            )
        )
    for before in db.scalars(select(Person).where(Person.successor_id == person.id)):
        entries.append(
            Entry(
                before.blocked_at or now,
                f"{moment(before.blocked_at or now, zone)} お客さま番号 "
                f"{refs.display(before.ref)} から割引券と利用履歴を移行しました",
                "transfer",
            )
        )
    if person.withdrawn_at is not None:
        entries.append(
            Entry(
                person.withdrawn_at,
                f"{moment(person.withdrawn_at, zone)} 退会しました(表示名・年代・地区は消去済み。"
                "未使用の割引券は使えず、その回の終わりに期限切れになります)",
                "withdrawal",
            )
        )
    if person.returned_from_id is not None:
        earlier = db.get(Person, person.returned_from_id)
        entries.append(
            Entry(
                person.created_at,
                f"{moment(person.created_at, zone)} 以前に退会した記録(お客さま番号 "
                f"{refs.display(earlier.ref if earlier else '')})と同じLINEアカウントで再登録"
                "しました(その記録で受け取った回は、受け取り済みになります)",
                "withdrawal",
            )
        )
    entries.sort(key=lambda e: (e.at, e.text))
    return [dataclasses.replace(e, passage=answers.passage(manual, e.topic)) for e in entries]
