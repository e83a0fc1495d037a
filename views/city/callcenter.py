"""The city's side of the call centre (Q-1): escalations with their age (on the home page too),
the answer or instruction, the lost-phone transfers to approve (four eyes), the reports. These
are the city's answering desk: its pages need the city's permission to answer
(CITY_INQUIRIES_ANSWER), not only to read inquiries, which agents and the secretariat also hold
(tests/functional/test_route_matrix.py found both reaching them, and an agent's 500 on an inquiry
not escalated)."""

from __future__ import annotations

from pyramid.httpexceptions import HTTPFound
from pyramid.view import view_config

from kariya.callcenter import categories, inquiries, reading, reminders, reports, transfers
from kariya.errors import DomainError
from kariya.security import P
from views.common import viewer
from views.filters import ago


def escalation_panel(request) -> dict:
    """What the city's home page shows of the call centre: escalations waiting for an answer,
    with their age, and the transfers waiting for approval."""
    now = request.clock.now()
    waiting = reading.waiting_for_city(request.db)
    return {
        "escalations": waiting,
        "escalation_age": lambda i: (
            ago(i.escalated_at, now),
            reading.business_age(request.kariya_settings, i.escalated_at, now),
        ),
        "escalation_reminders": reminders.escalation_reminders(request.db, [i.id for i in waiting]),
        "transfers_waiting": transfers.waiting(request.db),
        "category_label": categories.label,
    }


@view_config(
    route_name="city.callcenter",
    renderer="city/callcenter.jinja2",
    permission=P.CITY_INQUIRIES_ANSWER,
    request_method="GET",
)
def index(request):
    found = reading.listing(request.db, request.identity.role, limit=200)
    return {
        **escalation_panel(request),
        "inquiries": found,
        "state_label": inquiries.state_label,
        "report": reports.summary(request.db, request.kariya_settings),
        "recent_transfers": transfers.recent(request.db),
        "transfer_label": transfers.state_label,
    }


@view_config(
    route_name="city.inquiry",
    renderer="city/inquiry.jinja2",
    permission=P.CITY_INQUIRIES_ANSWER,
    request_method="GET",
)
def show(request):
    inquiry = inquiries.get_for(request.db, request.matchdict["id"], request.identity.role)
    now = request.clock.now()
    return {
        "inquiry": inquiry,
        "refs": reading.references(request.db, [inquiry])[inquiry.id],
        "events": reading.events(request.db, inquiry),
        "state_label": inquiries.state_label,
        "event_label": inquiries.event_label,
        "category_label": categories.label,
        "age": ago(inquiry.escalated_at, now),
        "business_hours": reading.business_age(
            request.kariya_settings, inquiry.escalated_at, inquiry.answered_at or now
        ),
    }


@view_config(
    route_name="city.inquiry_answer",
    permission=P.CITY_INQUIRIES_ANSWER,
    request_method="POST",
)
def answer(request):
    inquiry = inquiries.get_for(request.db, request.matchdict["id"], request.identity.role)
    try:
        inquiries.apply(
            request.db,
            request.clock,
            request.kariya_settings,
            viewer(request),
            inquiry,
            "answer",
            request.POST.get("note", ""),
        )
    except DomainError as exc:
        request.tm.doom()
        request.session.flash(exc.message)
        return HTTPFound(request.route_url("city.inquiry", id=inquiry.id))
    request.session.flash(f"No.{inquiry.id} に回答しました。コールセンターに表示されます。")
    return HTTPFound(request.route_url("city.callcenter"))


@view_config(
    route_name="city.transfer",
    renderer="city/transfer.jinja2",
    permission=P.CITY_TRANSFERS_APPROVE,
    request_method="GET",
)
def transfer(request):
    found = transfers.get(request.db, request.matchdict["id"])
    return {
        "transfer": found,
        "people": transfers.review(request.db, request.clock, viewer(request), found),
        "inquiry": inquiries.get(request.db, found.inquiry_id),
        "transfer_label": transfers.state_label,
        "category_label": categories.label,
    }


@view_config(
    route_name="city.transfer_decide",
    permission=P.CITY_TRANSFERS_APPROVE,
    request_method="POST",
)
def decide(request):
    found = transfers.get(request.db, request.matchdict["id"])
    note = request.POST.get("note", "")
    try:
        if request.matchdict["action"] == "approve":
            moved = transfers.approve(request.db, request.clock, viewer(request), found, note)
            message = f"アカウント移行 No.{found.id} を承認し、実行しました({moved})。"
        else:
            transfers.reject(request.db, request.clock, viewer(request), found, note)
            message = f"アカウント移行 No.{found.id} を不承認にしました。"
    except DomainError as exc:
        request.tm.doom()
        request.session.flash(exc.message)
        return HTTPFound(request.route_url("city.transfer", id=found.id))
    request.session.flash(message)
    return HTTPFound(request.route_url("city.callcenter"))
