"""The call centre's JSON (DESIGN.md 5.1 and 5.2): its hours for anyone; inquiries and the
residents' look-ups for staff (the same session as the staff pages, X-CSRF-Token on unsafe
calls)."""

from __future__ import annotations

import datetime as dt
import re

from pyramid.view import view_config

from kariya.callcenter import console, inquiries, reading
from kariya.callcenter.calendar import BusinessCalendar
from kariya.clock import JST, to_jst
from kariya.errors import Invalid
from kariya.security import P
from views import inputs
from views.api.support import json_body
from views.common import viewer


def parse_instant(value: str | None, what: str = "at") -> dt.datetime | None:
    """An ISO 8601 instant from a query string; a '+' of the offset that arrived as a space is
    read as '+'; without an offset it is Japan time. Absent: None; given but empty: 422."""
    if value is None:
        return None
    text = re.sub(r" (\d{2}:?\d{2})$", r"+\1", value.strip())
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise Invalid(
            f"{what} は ISO 8601 形式(例: 2024-01-15T10:00:00+09:00)で指定してください。"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=JST)


INQUIRY = {
    "caller_type": inputs.text(None),
    "channel": inputs.text(None),
    "category": inputs.text(None),
    "subject": inputs.text(None),
    "body": inputs.text(),
    "person_ref": inputs.text(None, nullable=True),
    "store_code": inputs.text(None, nullable=True),
    "confirmation_code": inputs.text(None, nullable=True),
    "payout_line_id": inputs.integer(nullable=True),
}
EVENT = {"event": inputs.text(None), "note": inputs.text(), "into": inputs.integer(nullable=True)}


NINE_HOURS = dt.timezone(dt.timedelta(hours=9))


def _iso(value: dt.datetime | None) -> str | None:
    if value is None:
        return None
    moment = to_jst(value)
    if moment.utcoffset().seconds % 60:  # Japan's local mean time before 1888: +09:18:59
        moment = value.astimezone(NINE_HOURS)
    return moment.isoformat()


@view_config(route_name="api.callcenter.hours", request_method="GET", renderer="json")
def hours(request):
    """Whether the call centre is open at `at` (default now) and, if not, when it opens next
    (Q-2). No login."""
    at = parse_instant(request.params.get("at")) or request.clock.now()
    try:
        status = BusinessCalendar.of(request.kariya_settings).status(at)
    except OverflowError:  # the next opening would be after the year 9999
        raise Invalid("at が遠すぎて、次の受付時間を求められません。") from None
    return {
        "open": status["open"],
        "opens_at": _iso(status["opens_at"]),
        "closes_at": _iso(status["closes_at"]),
    }


@view_config(
    route_name="api.staff.inquiries",
    request_method="POST",
    renderer="json",
    permission=P.CALLCENTER_INQUIRIES_EDIT,
)
def create_inquiry(request):
    body = inputs.fields(json_body(request), **INQUIRY)
    inquiry = inquiries.create(
        request.db, request.clock, request.kariya_settings, viewer(request), **body
    )
    request.response.status = 201
    return reading.detail_json(request.db, inquiry)


@view_config(
    route_name="api.staff.inquiries",
    request_method="GET",
    renderer="json",
    permission=P.CALLCENTER_INQUIRIES_VIEW,
)
def list_inquiries(request):
    found = reading.listing(
        request.db,
        request.identity.role,
        states=reading.parse_states(request.params.get("state")),
        escalated=True if inputs.query_bool(request, "escalated") else None,
    )
    refs_of = reading.references(request.db, found)
    return {"inquiries": [reading.summary_json(i, refs_of[i.id]) for i in found]}


@view_config(
    route_name="api.staff.inquiry",
    request_method="GET",
    renderer="json",
    permission=P.CALLCENTER_INQUIRIES_VIEW,
)
def show_inquiry(request):
    inquiry = inquiries.get_for(request.db, request.matchdict["id"], request.identity.role)
    return reading.detail_json(request.db, inquiry)


@view_config(
    route_name="api.staff.inquiry_events",
    request_method="POST",
    renderer="json",
    permission=P.CALLCENTER_INQUIRIES_VIEW,
)
def post_event(request):
    """`answer` is the city's (city:inquiries:answer); every other event the call centre's
    (callcenter:inquiries:edit). Refused: 403 FORBIDDEN (logged), 409 BAD_TRANSITION."""
    body = inputs.fields(json_body(request), **EVENT)
    # Not filtered by what the role sees: the city answering an inquiry that was never
    # escalated is refused by the machine (409), any other event by the role (403).
    inquiry = inquiries.get(request.db, request.matchdict["id"])
    applied = inquiries.apply(
        request.db,
        request.clock,
        request.kariya_settings,
        viewer(request),
        inquiry,
        body["event"],
        body["note"],
        into=body["into"],
    )
    if applied.mails:
        request.enqueue("kariya.mail.send")
    return {"id": inquiry.id, "state": inquiry.state}


@view_config(
    route_name="api.staff.residents",
    request_method="GET",
    renderer="json",
    permission=P.CALLCENTER_PERSONS_VIEW,
)
def search_residents(request):
    found = console.search_residents(
        request.db,
        request.clock,
        viewer(request),
        request.params.get("q"),
        request.params.get("inquiry"),
    )
    return {"residents": [console.resident_brief(p) for p in found]}


@view_config(
    route_name="api.staff.resident",
    request_method="GET",
    renderer="json",
    permission=P.CALLCENTER_PERSONS_VIEW,
)
def show_resident(request):
    inquiries.reason(request.db, request.params.get("inquiry"))  # the reason before anything
    person = console.person_for_ref(request.db, request.matchdict["person_ref"])
    console.view_resident(
        request.db, request.clock, viewer(request), person, request.params.get("inquiry")
    )
    return console.resident_json(request.db, person)
