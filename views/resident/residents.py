"""Residents themselves: the first-visit profile (I-1: age band, area and agreement to the
terms, which the page shows; asked once and editable later, the agreement asked again when the
terms change), the withdrawal (a page that says what happens, then one button; the rules are
in kariya.residents.withdrawal) and the login through LINE Login v2.1 (P-1; the rules are in
kariya.residents.line_login)."""

from __future__ import annotations

from pyramid.httpexceptions import HTTPFound
from pyramid.renderers import render_to_response
from pyramid.security import forget, remember
from pyramid.view import view_config

from kariya import roles
from kariya.coupons import acquisition
from kariya.documents import consent, kinds, reading
from kariya.errors import Invalid
from kariya.models import Person
from kariya.residents import line_login, options, withdrawal
from kariya.security import Identity, P
from views.common import safe_next


def _form(request, person, errors=None, values=None):
    values = values or {"age_band": person.age_band or "", "area": person.area or ""}
    needs_consent = consent.needs_consent(request.db, person.id)
    terms = (
        reading.published(request.db, kinds.TERMS, request.document_facts)
        if needs_consent
        else None
    )
    return {
        "person": person,
        "age_bands": options.AGE_BANDS,
        "areas": options.AREAS,
        "terms": terms,
        "errors": errors or {},
        "values": values,
        "next": request.params.get("next", ""),
    }


@view_config(
    route_name="resident.profile",
    renderer="resident/profile.jinja2",
    permission=P.RESIDENT_PROFILE_EDIT,
    request_method="GET",
)
def show_profile(request):
    return _form(request, request.db.get(Person, request.identity.id))


@view_config(
    route_name="resident.profile",
    renderer="resident/profile.jinja2",
    permission=P.RESIDENT_PROFILE_EDIT,
    request_method="POST",
)
def save_profile(request):
    person = request.db.get(Person, request.identity.id)
    values = {"age_band": request.POST.get("age_band", ""), "area": request.POST.get("area", "")}
    try:
        consent.save_profile(
            request.db,
            request.clock,
            person,
            values["age_band"],
            values["area"],
            agreed_terms=request.POST.get("agreed_terms"),
        )
    except Invalid as exc:
        request.response.status = 422
        return _form(request, person, exc.details or {}, values)
    request.session.flash("登録しました。")
    return HTTPFound(safe_next(request, request.route_url("resident.home")))


# -- withdrawal (退会) -------------------------------------------------------------------------


@view_config(
    route_name="resident.withdraw",
    renderer="resident/withdraw.jinja2",
    permission=P.RESIDENT_ACCOUNT_WITHDRAW,
    request_method="GET",
)
def confirm_withdrawal(request):
    """The confirmation step: what withdrawing does, in plain words, and the coupons it leaves
    unused; then one button (or back to the help page)."""
    person = request.db.get(Person, request.identity.id)
    if person is None or person.withdrawn:
        headers = forget(request)
        return HTTPFound(request.route_url("resident.withdrawn"), headers=headers)
    unused = [c for c in acquisition.coupons_of(request.db, person.id) if c["state"] == "issued"]
    return {"unused": len(unused), "unused_until": unused[0]["expires_at"] if unused else None}


@view_config(
    route_name="resident.withdraw",
    permission=P.RESIDENT_ACCOUNT_WITHDRAW,
    request_method="POST",
)
def withdraw(request):
    withdrawal.withdraw(
        request.db,
        request.clock,
        request.identity.id,
        withdrawal.hash_key(request.kariya_settings),
    )
    headers = forget(request)  # the session ends with the withdrawal
    return HTTPFound(request.route_url("resident.withdrawn"), headers=headers)


@view_config(
    route_name="resident.withdrawn", renderer="resident/withdrawn.jinja2", request_method="GET"
)
def withdrawn(request):
    return {}


# -- login through LINE ------------------------------------------------------------------------


def _destination(request, next_path: str, has_profile: bool = True) -> str:
    """Where a logged-in resident goes: the first-visit profile (I-1), the page they asked
    for, or their home."""
    if not has_profile:
        target = next_path or request.route_path("resident.home")
        return request.route_url("resident.profile", _query={"next": target})
    if next_path:
        return request.application_url + next_path
    return request.route_url("resident.home")


@view_config(route_name="resident.login_line", request_method="GET")
def start(request):
    next_path = line_login.safe_path(request.params.get("next"))
    identity = request.identity
    if identity is not None and identity.role == roles.RESIDENT:
        return HTTPFound(_destination(request, next_path))
    url = line_login.for_registry(request.registry).start(request.session, request.clock, next_path)
    response = HTTPFound(url)
    response.cache_control = "no-store"
    return response


@view_config(route_name="resident.login_line_callback", request_method="GET")
def callback(request):
    try:
        result = line_login.for_registry(request.registry).finish(
            request.db, request.clock, request.session, request.GET
        )
    except line_login.LineLoginFailed as exc:
        return _refused(request, exc)
    headers = remember(request, Identity(role=roles.RESIDENT, id=result.person.id))
    if result.friendship_status_changed:
        request.session.flash("刈谷市LINE公式アカウントのお友だち追加ありがとうございます。")
    return HTTPFound(
        _destination(request, result.next_path, result.person.has_profile), headers=headers
    )


def _refused(request, exc: line_login.LineLoginFailed):
    """A Japanese page; its 4xx/5xx status aborts the transaction, so nothing is written."""
    template = (
        "resident/login_not_friend.jinja2"
        if isinstance(exc, line_login.NotFriend)
        else "resident/login_failed.jinja2"
    )
    settings = request.kariya_settings
    retry = request.route_url(
        "resident.login_line", _query={"next": exc.next_path} if exc.next_path else {}
    )
    response = render_to_response(
        template,
        {
            "title": exc.title,
            "message": exc.message,
            "code": exc.code,
            "retry_url": retry,
            "account_name": settings.line.account_name,
            "add_friend_url": settings.line.add_friend_url,
            "callcenter_phone": settings.callcenter.phone,
            "callcenter_hours": settings.callcenter.hours,
        },
        request=request,
    )
    response.status = exc.status
    response.cache_control = "no-store"
    return response
