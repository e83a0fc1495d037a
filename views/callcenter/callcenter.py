"""The agent's console, built for a caller on the line (Q-1..Q-3): log the call from the home
screen, then work it on the inquiry's screen: look the caller up (with the inquiry as the
reason, D-1), read the timeline, add notes with canned answers, escalate, resolve, request an
account transfer. Refused steps come back to the same screen with the reason and write nothing.
"""

from __future__ import annotations

from pyramid.httpexceptions import HTTPFound
from pyramid.view import view_config

from kariya.callcenter import answers, categories, console, inquiries, transfers
from kariya.callcenter.models import CALLER_TYPES, CHANNELS
from kariya.errors import DomainError, Invalid
from kariya.residents.options import AGE_BANDS, AREAS
from kariya.security import P
from views.callcenter import documents
from views.common import viewer

CALLER_LABELS = {"resident": "市民", "store": "登録店", "other": "その他"}
CHANNEL_LABELS = {"phone": "電話", "mail": "メール", "other": "その他"}


def _labels() -> dict:
    return {
        "state_label": inquiries.state_label,
        "event_label": inquiries.event_label,
        "category_label": categories.label,
        "transfer_label": transfers.state_label,
        "categories": categories.choices(),
        "caller_types": [(c, CALLER_LABELS[c]) for c in CALLER_TYPES],
        "channels": [(c, CHANNEL_LABELS[c]) for c in CHANNELS],
        "caller_label": CALLER_LABELS,
        "channel_label": CHANNEL_LABELS,
        "age_bands": AGE_BANDS,
        "areas": AREAS,
    }


def _refused(request, exc: DomainError, route: str, **kw):
    """Back to the screen with the reason; the transaction is doomed, so nothing is written."""
    request.tm.doom()
    request.session.flash(exc.message)
    return HTTPFound(request.route_url(route, **kw))


@view_config(
    route_name="callcenter.home",
    renderer="callcenter/home.jinja2",
    permission=P.CALLCENTER_HOME_VIEW,
    request_method="GET",
)
def home(request):
    return {
        **console.desk(
            request.db,
            request.clock,
            request.kariya_settings,
            viewer(request),
            request.params.get("q", ""),
        ),
        **_labels(),
        **documents.panel(request),  # the answer manual beside the console
    }


@view_config(
    route_name="callcenter.inquiries",
    permission=P.CALLCENTER_INQUIRIES_EDIT,
    request_method="POST",
)
def log_call(request):
    """Log the call and take it at once: the agent who logs it is on the line."""
    form = request.POST
    try:
        inquiry = inquiries.create(
            request.db,
            request.clock,
            request.kariya_settings,
            viewer(request),
            caller_type=form.get("caller_type"),
            channel=form.get("channel"),
            category=form.get("category"),
            subject=form.get("subject"),
            body=form.get("body", ""),
            person_ref=form.get("person_ref") or None,
            store_code=form.get("store_code") or None,
            confirmation_code=form.get("confirmation_code") or None,
        )
        inquiries.apply(
            request.db, request.clock, request.kariya_settings, viewer(request), inquiry, "take"
        )
    except DomainError as exc:
        problems = exc.details if isinstance(exc.details, dict) else {}
        for problem in problems.values():
            request.session.flash(problem)
        return _refused(request, exc, "callcenter.home")
    request.session.flash(f"No.{inquiry.id} を受け付けました。")
    return HTTPFound(request.route_url("callcenter.inquiry", id=inquiry.id))


@view_config(
    route_name="callcenter.inquiry",
    renderer="callcenter/inquiry.jinja2",
    permission=P.CALLCENTER_HOME_VIEW,
    request_method="GET",
)
def show(request):
    inquiry = inquiries.get(request.db, request.matchdict["id"])
    manual = answers.published_manual(request.db, request.document_facts)
    return {
        **console.case(
            request.db,
            request.clock,
            request.kariya_settings,
            viewer(request),
            inquiry,
            request.params.get("q", ""),
            manual,
        ),
        **_labels(),
        **documents.panel(request, manual),  # the answer manual beside the console
    }


def _manual_quote(request, note: str) -> tuple[str, tuple[int, str] | None]:
    """The note with the chosen canned answer inserted, and the manual version it quotes: the
    one the agent's screen showed (`manual_version`), even if a newer one was published since."""
    found = answers.find(
        request.db,
        request.document_facts,
        request.POST.get("section", ""),
        request.POST.get("manual_version") or None,
    )
    if found is None:
        return note, None
    section, version = found
    return answers.insert_into(note, section), (version, section.id)


@view_config(
    route_name="callcenter.inquiry_event",
    permission=P.CALLCENTER_INQUIRIES_EDIT,
    request_method="POST",
)
def step(request):
    inquiry = inquiries.get(request.db, request.matchdict["id"])
    note, manual = _manual_quote(request, request.POST.get("note", ""))
    name = request.POST.get("event", "")
    try:
        applied = inquiries.apply(
            request.db,
            request.clock,
            request.kariya_settings,
            viewer(request),
            inquiry,
            name,
            note,
            into=request.POST.get("into") or None,
            manual=manual,
        )
    except DomainError as exc:
        return _refused(request, exc, "callcenter.inquiry", id=inquiry.id)
    if applied.mails:
        request.enqueue("kariya.mail.send")
    request.session.flash(
        f"No.{inquiry.id}: {inquiries.event_label(name)}({inquiries.state_label(inquiry.state)})"
    )
    if inquiry.state in (inquiries.inquiry_wf.S.resolved, inquiries.inquiry_wf.S.merged):
        return HTTPFound(request.route_url("callcenter.home"))
    return HTTPFound(request.route_url("callcenter.inquiry", id=inquiry.id))


@view_config(
    route_name="callcenter.inquiry_note",
    permission=P.CALLCENTER_INQUIRIES_EDIT,
    request_method="POST",
)
def note(request):
    inquiry = inquiries.get(request.db, request.matchdict["id"])
    text, manual = _manual_quote(request, request.POST.get("note", ""))
    try:
        inquiries.add_note(request.db, request.clock, viewer(request), inquiry, text, manual)
    except DomainError as exc:
        return _refused(request, exc, "callcenter.inquiry", id=inquiry.id)
    request.session.flash("メモを記録しました。")
    return HTTPFound(request.route_url("callcenter.inquiry", id=inquiry.id))


@view_config(
    route_name="callcenter.inquiry_link",
    permission=P.CALLCENTER_INQUIRIES_EDIT,
    request_method="POST",
)
def link(request):
    inquiry = inquiries.get(request.db, request.matchdict["id"])
    try:
        person = store = None
        if request.POST.get("person_ref"):
            inquiries.reason(request.db, inquiry.id)
            person = console.person_for_ref(request.db, request.POST["person_ref"])
        else:
            found = console.stores(request.db, request.POST.get("store_code", ""))
            if not found:
                raise Invalid("店舗が見つかりません。")
            store = found[0]
        inquiries.link(
            request.db, request.clock, viewer(request), inquiry, person=person, store=store
        )
    except DomainError as exc:
        return _refused(request, exc, "callcenter.inquiry", id=inquiry.id)
    return HTTPFound(request.route_url("callcenter.inquiry", id=inquiry.id))


@view_config(
    route_name="callcenter.inquiry_transfer",
    permission=P.CALLCENTER_TRANSFERS_REQUEST,
    request_method="POST",
)
def request_transfer(request):
    inquiry = inquiries.get(request.db, request.matchdict["id"])
    form = request.POST
    try:
        transfer, _check = transfers.request(
            request.db,
            request.clock,
            viewer(request),
            inquiry,
            new_ref=form.get("new_ref", ""),
            age_band=form.get("age_band", ""),
            area=form.get("area", ""),
            codes=form.get("codes", ""),
        )
    except DomainError as exc:
        return _refused(request, exc, "callcenter.inquiry", id=inquiry.id)
    if transfer is None:
        request.session.flash(
            "本人確認ができなかったため、移行を申請できません(確認の内容は記録しました)。"
        )
    else:
        request.session.flash(
            f"アカウント移行 No.{transfer.id} を申請しました。市の承認を待ちます。"
        )
    return HTTPFound(request.route_url("callcenter.inquiry", id=inquiry.id))


@view_config(
    route_name="callcenter.transfer_withdraw",
    permission=P.CALLCENTER_TRANSFERS_REQUEST,
    request_method="POST",
)
def withdraw_transfer(request):
    transfer = transfers.get(request.db, request.matchdict["id"])
    try:
        transfers.withdraw(request.db, request.clock, viewer(request), transfer)
    except DomainError as exc:
        return _refused(request, exc, "callcenter.inquiry", id=transfer.inquiry_id)
    request.session.flash(f"アカウント移行 No.{transfer.id} を取り下げました。")
    return HTTPFound(request.route_url("callcenter.inquiry", id=transfer.inquiry_id))
