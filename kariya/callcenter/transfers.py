"""A lost phone or a new LINE account (issue 12, item 7). The Japanese anchors say "no
reissue"; here an agent may move a resident's coupons and history to the resident's new LINE
account, with four eyes:

1. the agent checks the caller's identity on the inquiry: the profile answers (age band, area)
   and recent confirmation codes, compared with the old record; the check is journaled on the
   inquiry whatever its outcome;
2. the agent requests the transfer from the old record to the new one (the caller logs in once
   with the new account, so the record exists, and reads out its number);
3. a city approver approves (never the requester), and the move happens in that transaction:
   the acquisitions, the coupons (the current round's unused ones too), the uses and the
   per-store counters pass to the new record, which also holds the old one's agreements to the
   terms (kariya.documents.consent); the old one is blocked from logging in, acquiring
   and using. Money does not move: each round's unused value stays outstanding, now held by
   the new record, which a ledger entry per round records (kind `transfer`, the same account
   on both sides), so `kariya ledger check` holds. Both records' access is logged.
"""

from __future__ import annotations

import unicodedata

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from kariya import roles
from kariya.audit import access
from kariya.audit.access import Viewer
from kariya.callcenter import inquiries
from kariya.callcenter.models import Inquiry, PersonTransfer
from kariya.campaign.models import Campaign, Round
from kariya.coupons.models import Acquisition, Coupon
from kariya.documents import consent
from kariya.errors import Conflict, Forbidden, Invalid, NotFound
from kariya.ledger import postings
from kariya.redemptions.models import Redemption, StoreUse
from kariya.residents import refs
from kariya.residents.models import Person
from kariya.residents.options import AGE_BANDS, AREAS
from workflows import coupon as coupon_wf
from workflows import inquiry as inquiry_wf
from workflows.binding import fire, label

RECENT_CODES = 5


class TransferConflict(Conflict):
    code = "TRANSFER_CONFLICT"


def state_label(state: str) -> str:
    return label(inquiry_wf.TRANSFER, state)


def get(db: Session, transfer_id) -> PersonTransfer:
    try:
        found = db.get(PersonTransfer, int(transfer_id))
    except (TypeError, ValueError, OverflowError):
        found = None
    if found is None:
        raise NotFound("移行の申請が見つかりません。")
    return found


def _codes(values) -> list[str]:
    if isinstance(values, str):
        values = unicodedata.normalize("NFKC", values).replace(",", " ").replace("、", " ").split()
    return [c for c in (inquiries.normalise_code(v) for v in values or []) if c][:RECENT_CODES]


def identity_check(db: Session, old: Person, *, age_band, area, codes) -> tuple[bool, str]:
    """Compare what the caller said with the old record; the verdict and a readable account."""
    known = set(
        db.scalars(
            select(Redemption.confirmation_code)
            .where(Redemption.person_id == old.id)
            .order_by(Redemption.used_at.desc())
            .limit(20)
        )
    )
    said = _codes(codes)
    age_ok = bool(age_band) and age_band == old.age_band
    area_ok = bool(area) and area == old.area
    matched = [c for c in said if c in known]
    codes_ok = bool(matched) if known else True
    mark = lambda ok: "一致" if ok else "不一致"  # noqa: E731
    lines = [
        f"本人確認(旧お客さま番号 {refs.display(old.ref)})",
        f"- 年代: {AGE_BANDS.get(age_band, '未回答')}({mark(age_ok)})",
        f"- 地区: {AREAS.get(area, '未回答')}({mark(area_ok)})",
    ]
    if known:
        listed = "、".join(f"{c}({mark(c in known)})" for c in said) or "回答なし"
        lines.append(f"- 最近の確認コード: {listed}")
    else:
        lines.append("- 確認コード: 利用履歴がないため確認なし")
    ok = age_ok and area_ok and codes_ok
    lines.append("結果: 本人確認できました" if ok else "結果: 本人確認できませんでした")
    return ok, "\n".join(lines)


def _overlap(db: Session, old: Person, new: Person) -> list[int]:
    """Rounds in which both records acquired (one acquisition per person per round, I-2)."""
    old_rounds = select(Acquisition.round_id).where(Acquisition.person_id == old.id)
    return list(
        db.scalars(
            select(Round.number)
            .join(Acquisition, Acquisition.round_id == Round.id)
            .where(Acquisition.person_id == new.id, Acquisition.round_id.in_(old_rounds))
            .order_by(Round.number)
        )
    )


def _refuse_overlap(db: Session, old: Person, new: Person) -> None:
    both = _overlap(db, old, new)
    if both:
        numbers = "・".join(f"第{n}回" for n in both)
        raise TransferConflict(
            f"新しいアカウントは{numbers}の割引券をすでに受け取っているため、移行できません"
            "(1人1回の受け取り、I-2)。"
        )


def _people(db: Session, old: Person, new: Person) -> None:
    if new.id == old.id:
        raise Invalid("移行先には、旧アカウントとは別のお客さま番号を指定してください。")
    if old.withdrawn or new.withdrawn:
        raise TransferConflict("退会済みのアカウントとの間では移行できません。")
    if old.blocked:
        raise TransferConflict("旧アカウントはすでに移行済みです。")
    if new.blocked:
        raise TransferConflict("移行先のアカウントは利用できない状態です(移行済み)。")


def request(
    db: Session,
    clock,
    viewer: Viewer,
    inquiry: Inquiry,
    *,
    new_ref,
    age_band="",
    area="",
    codes=(),
) -> tuple[PersonTransfer | None, str]:
    """Check the caller's identity and, if it holds, request the transfer. The check is
    journaled on the inquiry either way; returns (the request or None, the check's text)."""
    if viewer.role not in inquiries.CALL_CENTRE_ROLES:
        raise Forbidden()
    inquiry = inquiries.reason(db, inquiry.id)
    if inquiry.person_id is None:
        raise Invalid("先に、お問い合わせに旧アカウントのお客さまを紐づけてください。")
    old = db.get(Person, inquiry.person_id)
    new = inquiries.person_by_ref(db, new_ref)
    if new is None:
        raise Invalid(
            "移行先のお客さま番号が見つかりません。新しいアカウントで一度ログインしてもらい、ヘルプ画面の番号を確認してください。"
        )
    _people(db, old, new)
    _refuse_overlap(db, old, new)
    waiting = db.scalar(
        select(PersonTransfer.id).where(
            PersonTransfer.from_person_id == old.id,
            PersonTransfer.state == inquiry_wf.T.requested,
        )
    )
    if waiting is not None:
        raise TransferConflict(f"このお客さまの移行申請(No.{waiting})が承認待ちです。")
    ok, text = identity_check(db, old, age_band=age_band, area=area, codes=codes)
    inquiries.add_note(db, clock, viewer, inquiry, text)
    if not ok:
        return None, text
    now = clock.now()
    transfer = PersonTransfer(
        state=inquiry_wf.T.requested,
        inquiry_id=inquiry.id,
        from_person_id=old.id,
        to_person_id=new.id,
        identity_check=text,
        requested_by=viewer.actor,
        requested_at=now,
        decision_note="",
        moved="",
    )
    db.add(transfer)
    db.flush()
    inquiries.add_note(
        db,
        clock,
        viewer,
        inquiry,
        f"アカウント移行を申請しました(No.{transfer.id}: {refs.display(old.ref)} → "
        f"{refs.display(new.ref)})。市の承認を待ちます。",
    )
    for person in (old, new):
        access.record(
            db,
            now,
            viewer,
            access.TRANSFER_REQUEST,
            subject=person.ref,
            inquiry_id=inquiry.id,
            detail=f"transfer {transfer.id}",
        )
    return transfer, text


def _decider(viewer: Viewer, transfer: PersonTransfer) -> None:
    if viewer.role != roles.CITY:
        raise Forbidden("アカウント移行を承認・不承認できるのは市の担当者だけです。")
    if viewer.actor == transfer.requested_by:
        raise Forbidden("申請した人は承認できません。")


def approve(db: Session, clock, viewer: Viewer, transfer: PersonTransfer, note: str = "") -> str:
    """The city approves: the move happens now (or, refused, nothing does)."""
    _decider(viewer, transfer)
    now = clock.now()
    fire(
        db,
        inquiry_wf.TRANSFER,
        transfer,
        "approve",
        actor=viewer.actor,
        now=now,
        reason=note,
    )
    transfer.decided_by, transfer.decided_at = viewer.actor, now
    transfer.decision_note = (note or "")[:500]
    moved = _move(db, clock, transfer, viewer)
    transfer.moved = moved
    db.flush()
    return moved


def reject(db: Session, clock, viewer: Viewer, transfer: PersonTransfer, note: str) -> None:
    _decider(viewer, transfer)
    if not (note or "").strip():
        raise Invalid("不承認の理由を入力してください。")
    now = clock.now()
    fire(db, inquiry_wf.TRANSFER, transfer, "reject", actor=viewer.actor, now=now, reason=note)
    transfer.decided_by, transfer.decided_at = viewer.actor, now
    transfer.decision_note = note.strip()[:500]
    _note(db, clock, transfer, viewer, f"アカウント移行 No.{transfer.id} は不承認: {note.strip()}")


def withdraw(db: Session, clock, viewer: Viewer, transfer: PersonTransfer) -> None:
    if viewer.role not in inquiries.CALL_CENTRE_ROLES:
        raise Forbidden()
    fire(db, inquiry_wf.TRANSFER, transfer, "withdraw", actor=viewer.actor, now=clock.now())
    _note(db, clock, transfer, viewer, f"アカウント移行 No.{transfer.id} を取り下げました。")


def _note(db: Session, clock, transfer: PersonTransfer, viewer: Viewer, text: str) -> None:
    """A line on the inquiry's journal, written whatever the inquiry's state now is."""
    inquiry = db.get(Inquiry, transfer.inquiry_id)
    inquiries.journal_note(db, clock, viewer, inquiry, text)


def _move(db: Session, clock, transfer: PersonTransfer, viewer: Viewer) -> str:
    now = clock.now()
    people = {
        p.id: p
        for p in db.scalars(
            select(Person)
            .where(Person.id.in_([transfer.from_person_id, transfer.to_person_id]))
            .order_by(Person.id)
            .with_for_update()
        )
    }
    old, new = people[transfer.from_person_id], people[transfer.to_person_id]
    _people(db, old, new)
    _refuse_overlap(db, old, new)
    if not new.has_profile and old.has_profile:
        new.age_band, new.area = old.age_band, old.area
        new.profile_at = now
    consent.carry_over(db, old.id, new.id)  # the terms the resident agreed to, with their times
    unused = db.execute(
        select(Round, Campaign, func.count())
        .join(Coupon, Coupon.round_id == Round.id)
        .join(Campaign, Campaign.id == Round.campaign_id)
        .where(Coupon.person_id == old.id, Coupon.state == coupon_wf.S.issued)
        .group_by(Round.id, Campaign.id)
        .order_by(Round.number)
    ).all()
    # The coupons follow their acquisitions: one foreign key, which cascades (kariya.coupons.models).
    coupons = select(func.count()).select_from(Coupon).where(Coupon.person_id == old.id)
    counts = {"coupon": db.scalar(coupons)}
    for model in (Acquisition, Redemption, StoreUse):
        result = db.execute(update(model).where(model.person_id == old.id).values(person_id=new.id))
        counts[model.__tablename__] = result.rowcount
    parts = []
    for rnd, campaign, n in unused:
        value = n * campaign.coupon_face
        postings.post(
            db,
            campaign_id=campaign.id,
            kind="transfer",
            ref=f"transfer:{transfer.id}:round:{rnd.id}",
            moves=[(postings.outstanding(rnd.id), postings.outstanding(rnd.id), value)],
            now=now,
            actor=viewer.actor,
            memo=(
                f"アカウント移行 No.{transfer.id}: 第{rnd.number}回の未使用{n}枚 {value:,}円 "
                f"({old.ref} → {new.ref})"
            ),
        )
        parts.append(f"第{rnd.number}回の未使用{n}枚")
    old.blocked_at = now
    old.successor_id = new.id
    summary = (
        f"{'・'.join(parts) or '未使用の割引券なし'}、受け取り{counts['acquisition']}回・"
        f"割引券{counts['coupon']}枚・利用{counts['redemption']}件を移行"
    )
    _note(
        db,
        clock,
        transfer,
        viewer,
        f"アカウント移行 No.{transfer.id} を承認し、実行しました: {summary}"
        f"({refs.display(old.ref)} → {refs.display(new.ref)}、旧アカウントは利用停止)。",
    )
    for person in (old, new):
        access.record(
            db,
            now,
            viewer,
            access.TRANSFER_APPROVE,
            subject=person.ref,
            inquiry_id=transfer.inquiry_id,
            detail=f"transfer {transfer.id}",
        )
    db.flush()
    return summary


def waiting(db: Session) -> list[PersonTransfer]:
    return list(
        db.scalars(
            select(PersonTransfer)
            .where(PersonTransfer.state == inquiry_wf.T.requested)
            .order_by(PersonTransfer.requested_at)
        )
    )


def of_inquiry(db: Session, inquiry_id: int) -> list[PersonTransfer]:
    return list(
        db.scalars(
            select(PersonTransfer)
            .where(PersonTransfer.inquiry_id == inquiry_id)
            .order_by(PersonTransfer.id)
        )
    )


def recent(db: Session, limit: int = 50) -> list[PersonTransfer]:
    return list(db.scalars(select(PersonTransfer).order_by(PersonTransfer.id.desc()).limit(limit)))


def review(db: Session, clock, viewer: Viewer, transfer: PersonTransfer) -> dict[int, Person]:
    """The two records of a transfer for its approver, who reads the identity check (the old
    record's profile answers): a look-up of both, so two access records."""
    people = people_of(db, [transfer])
    now = clock.now()
    for person_id in (transfer.from_person_id, transfer.to_person_id):
        access.record(
            db,
            now,
            viewer,
            access.VIEW,
            subject=people[person_id].ref,
            inquiry_id=transfer.inquiry_id,
            detail=f"transfer {transfer.id}",
        )
    return people


def people_of(db: Session, transfers: list[PersonTransfer]) -> dict[int, Person]:
    ids = {t.from_person_id for t in transfers} | {t.to_person_id for t in transfers}
    if not ids:
        return {}
    return {p.id: p for p in db.scalars(select(Person).where(Person.id.in_(ids)))}
