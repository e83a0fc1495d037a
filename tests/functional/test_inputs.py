"""Issue 14, defect 7: every input is checked at the edge (views/inputs.py), so nothing a
client sends reaches the database or a view as something it cannot handle (I-10). A NUL byte,
a control character, a lone surrogate or bytes that are not UTF-8 in the path, the query
string, a form or a JSON body; JSON nested too deep; a float or a boolean where an integer is
meant; a wrong HTTP method. Each is answered 4xx with a Japanese message (JSON under /api, a
Japanese page elsewhere), never 500, and nothing is written."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select
from webob import Request

from kariya.models import Coupon, Inquiry, Person, Redemption
from tests.helpers import (
    ROUND1,
    csrf_from,
    load_campaign,
    login_resident,
    login_staff,
    make_store,
    make_user,
)

JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")


def refused_json(response, code: str = "INVALID"):
    assert response.content_type == "application/json"
    assert response.json["error"] == code, response.json
    assert JAPANESE.search(response.json["message"]), response.json
    return response.json


def refused_page(response):
    assert response.content_type == "text/html"
    assert JAPANESE.search(response.text)
    assert "SERVER_ERROR" not in response.text


@pytest.fixture
def shop(db, testapp):
    load_campaign(db, total=60_000, rounds=6)
    store = make_store(db, "S0001", "かりや青果店")
    testapp.put_json("/dev/clock", {"now": ROUND1.replace(hour=10).isoformat(), "frozen": True})
    return store


@pytest.fixture
def phone(testapp, shop):
    token = login_resident(testapp)
    testapp.post("/api/v1/acquisitions", headers={"X-CSRF-Token": token}, status=201)
    return token


# -- the query string and the path ------------------------------------------------------------


@pytest.mark.parametrize("name", ["q", "category", "area"])
@pytest.mark.parametrize("value", ["%00", "a%00b", "%01", "%1b[31m", "%7f", "%ff", "%ed%a0%80"])
def test_the_store_finder_refuses_nul_controls_and_bad_utf8_in_its_query(testapp, name, value):
    """I-10: a NUL reached PostgreSQL (500); bytes that are not UTF-8 (a CESU-encoded lone
    surrogate too) broke the query string's decoding (500, or a message about `page`)."""
    body = refused_json(testapp.get(f"/api/v1/stores?{name}={value}", status=422))
    assert "page" not in body["message"]


@pytest.mark.parametrize("name", ["q", "category", "area"])
def test_the_store_finder_page_refuses_a_nul_with_a_japanese_page(testapp, name):
    refused_page(testapp.get(f"/stores?{name}=%00", status=422))


def test_a_nul_in_a_store_code_in_the_path_is_refused(testapp, shop):
    refused_page(testapp.get("/stores/S0001%00", status=422))
    assert testapp.get("/stores/S0001", status=200)


def test_bytes_that_are_not_utf8_in_the_path_are_refused(testapp):
    response = testapp.get("/stores/%ff%fe", status=(400, 422))
    refused_page(response)


@pytest.mark.parametrize("token", ["%00", "abc%00", "%01", "%7f", "%c2%85"])
def test_a_qr_token_with_a_nul_or_a_control_is_refused(testapp, phone, token):
    refused_json(testapp.get(f"/api/v1/qr/{token}", status=422))
    refused_page(testapp.get(f"/s/{token}", status=422))


def test_a_qr_token_that_is_not_utf8_is_refused(testapp, phone):
    """A CESU-encoded lone surrogate (webtest's cookie jar cannot send this URL: plain WSGI)."""
    request = Request.blank(
        "/api/v1/qr/%ed%a0%80", environ={"HTTP_HOST": "localhost", "REMOTE_ADDR": "10.0.0.1"}
    )
    request.headers["Cookie"] = f"kariya_session={testapp.cookies['kariya_session']}"
    response = request.get_response(testapp.app)
    assert response.status_int == 422
    refused_json(response)


def test_the_finder_still_takes_japanese_and_spaces(testapp, shop):
    body = testapp.get("/api/v1/stores", {"q": "かりや 青果", "page": "1"}).json
    assert [s["code"] for s in body["stores"]] == ["S0001"]


@pytest.mark.parametrize("page", ["0", "-1", "abc", "1.5", ""])
def test_the_finders_page_is_a_whole_number_from_1(testapp, page):
    """The OpenAPI says `minimum: 1`; page=0 used to be taken as 1."""
    refused_json(testapp.get(f"/api/v1/stores?page={page}", status=422))


# -- forms ------------------------------------------------------------------------------------


def test_a_nul_in_the_staff_login_form_is_refused_before_the_database(testapp, db):
    form = testapp.get("/login")
    response = testapp.post(
        "/login",
        {"username": "city\x00", "password": "x", "csrf_token": csrf_from(form.text)},
        status=422,
    )
    refused_page(response)


def test_a_form_keeps_its_line_breaks_and_tabs(testapp, db):
    """Multi-line notes are normal input: only NUL and the other control characters go."""
    make_user(db, "secretariat")
    form = testapp.get("/login")
    testapp.post(
        "/login",
        {"username": "nobody\tat\r\nall", "password": "x", "csrf_token": csrf_from(form.text)},
        status=200,  # the ordinary "wrong username or password" page
    )


# -- JSON bodies ------------------------------------------------------------------------------


def deep(depth: int) -> str:
    return "[" * depth + "]" * depth


def test_json_nested_5000_deep_is_refused_without_a_recursion_error(testapp):
    """A RecursionError in the JSON decoder used to answer 500 (no login needed)."""
    response = testapp.post(
        "/dev/line-login", deep(5000), content_type="application/json", status=422
    )
    refused_json(response)


def test_json_nested_deeper_than_the_limit_is_refused(testapp, phone):
    body = '{"age_band": ' + deep(40) + ', "area": "kariya"}'
    response = testapp.put(
        "/api/v1/me/profile",
        body,
        content_type="application/json",
        headers={"X-CSRF-Token": phone},
        status=422,
    )
    refused_json(response)


@pytest.mark.parametrize(
    "raw",
    [
        r'{"line_user_id": "U1", "display_name": "\ud800"}',
        r'{"line_user_id": "U1", "display_name": "a\udfffb"}',
        r'{"line_user_id": "U1\u0000", "display_name": "x"}',
        r'{"line_user_id": "U1", "display_name": "\u0007"}',
        r'{"line_user_id": "U1", "\ud800": "x"}',
    ],
)
def test_a_lone_surrogate_nul_or_control_in_a_json_string_is_refused(testapp, db, raw):
    """A lone surrogate cannot be encoded for PostgreSQL (500); a NUL is refused by it."""
    response = testapp.post("/dev/line-login", raw, content_type="application/json", status=422)
    refused_json(response)
    assert db.scalar(select(func.count()).select_from(Person)) == 0


def test_a_real_emoji_in_json_is_fine(testapp, db):
    # A surrogate *pair* is one character (U+1F600) and welcome.
    raw = r'{"line_user_id": "U1", "display_name": "\ud83d\ude00 市民"}'
    testapp.post("/dev/line-login", raw, content_type="application/json", status=200)
    assert db.scalar(select(Person.display_name)) == "\U0001f600 市民"


@pytest.mark.parametrize(
    "field,value,code",
    [
        ("coupons", 1.0, "INVALID_COUPONS"),  # the count's own code (DESIGN 5)
        ("coupons", True, "INVALID_COUPONS"),
        ("coupons", "1", "INVALID_COUPONS"),
        ("coupons", [1], "INVALID_COUPONS"),
        ("coupons", 2**40, "INVALID_COUPONS"),
        ("bill_amount", 1000.0, "INVALID_BILL"),  # the bill's own rule (kariya.redemptions)
        ("bill_amount", False, "INVALID_BILL"),
        ("store_token", 12345, "INVALID"),
        ("store_token", None, "INVALID"),
    ],
)
def test_redemption_fields_have_their_types(testapp, shop, phone, db, field, value, code):
    """`"coupons": 1.0` answered 500 (a float index); a boolean passed as 1 coupon."""
    body = {"store_token": shop.qr_token, "coupons": 1, "bill_amount": 1000, field: value}
    response = testapp.post_json(
        "/api/v1/redemptions", body, headers={"X-CSRF-Token": phone}, status=422
    )
    refused_json(response, code)
    if code != "INVALID_BILL":
        assert field in response.json["message"]
    assert db.scalar(select(func.count()).select_from(Redemption)) == 0
    assert db.scalar(select(func.count()).select_from(Coupon).where(Coupon.state == "used")) == 0


def test_a_well_typed_redemption_still_goes_through(testapp, shop, phone):
    body = {"store_token": shop.qr_token, "coupons": 1, "bill_amount": "１，２００"}
    testapp.post_json("/api/v1/redemptions", body, headers={"X-CSRF-Token": phone}, status=201)


@pytest.mark.parametrize("value", [1.0, True, "1", 2**63])
def test_the_agreed_terms_version_is_an_integer(testapp, db, value):
    token = login_resident(testapp, profile=False)
    response = testapp.put_json(
        "/api/v1/me/profile",
        {"age_band": "70s", "area": "kariya", "agreed_terms": value},
        headers={"X-CSRF-Token": token},
        status=422,
    )
    refused_json(response)
    db.expire_all()
    assert db.scalar(select(Person.profile_at)) is None


@pytest.mark.parametrize(
    "field,value",
    [("payout_line_id", 1.5), ("payout_line_id", 10**20), ("subject", 5), ("body", ["x"])],
)
def test_an_inquirys_fields_have_their_types(testapp, db, field, value):
    make_user(db, "agent")
    page = login_staff(testapp, "agent").follow()
    body = {
        "caller_type": "resident",
        "channel": "phone",
        "category": "other",
        "subject": "件名",
        field: value,
    }
    response = testapp.post_json(
        "/api/v1/staff/inquiries", body, headers={"X-CSRF-Token": csrf_from(page.text)}, status=422
    )
    refused_json(response)
    assert db.scalar(select(func.count()).select_from(Inquiry)) == 0


def test_a_huge_inquiry_id_in_the_path_is_not_found_not_a_500(testapp, db):
    make_user(db, "agent")
    login_staff(testapp, "agent")
    testapp.get("/api/v1/staff/inquiries/99999999999999999999", status=(404, 422))


# -- methods ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "method,path,allowed",
    [
        ("DELETE", "/api/v1/stores", "GET, HEAD"),
        ("PATCH", "/api/v1/acquisitions", "POST"),
        ("PUT", "/api/v1/rounds/current", "GET, HEAD"),
        ("TRACE", "/api/v1/profile-options", "GET, HEAD"),
        ("POST", "/api/v1/openapi.yaml", "GET, HEAD"),
    ],
)
def test_a_wrong_method_on_an_api_route_is_405_with_allow(testapp, method, path, allowed):
    response = testapp.request(path, method=method, status=405, expect_errors=True)
    refused_json(response, "METHOD_NOT_ALLOWED")
    assert response.headers["Allow"] == allowed


@pytest.mark.parametrize("method", ["TRACE", "DELETE", "PUT"])
def test_a_wrong_method_on_a_page_is_405_with_a_japanese_page(testapp, method):
    response = testapp.request("/stores", method=method, status=405, expect_errors=True)
    refused_page(response)
    assert "GET" in response.headers["Allow"]


def test_an_unknown_path_is_still_404(testapp):
    testapp.request("/api/v1/nothing-here", method="TRACE", status=404, expect_errors=True)
    testapp.get("/no/such/page", status=404)


def test_a_multipart_body_without_its_boundary_is_refused(testapp):
    """Found by schemathesis: webob's multipart parser raised ValueError (500)."""
    response = testapp.post(
        "/login", b"x", content_type="multipart/form-data", status=422, expect_errors=True
    )
    refused_page(response)


@pytest.mark.parametrize("at", ["", "  ", "9999-12-31T23:59:59-12:00", "0001-01-01T00:00:00+14:00"])
def test_the_call_centres_hours_refuse_an_empty_or_unanswerable_instant(testapp, at):
    """Found by schemathesis: an empty `at` was read as now; the ends of the calendar
    overflowed (500)."""
    refused_json(testapp.get("/api/v1/callcenter/hours", {"at": at}, status=422))


def test_the_call_centres_hours_long_ago_carry_a_whole_minute_offset(testapp):
    """Found by schemathesis: the year 24 answered with Japan's local mean time, +09:18:59,
    which no RFC 3339 date-time can carry."""
    body = testapp.get("/api/v1/callcenter/hours", {"at": "0024-09-06T18:26:19Z"}).json
    assert body["opens_at"].endswith("+09:00")


@pytest.mark.parametrize("value", ["", "null", "1", "yes"])
def test_escalated_is_true_or_false(testapp, db, value):
    """Found by schemathesis: `escalated=null` (and an empty one) was taken as no filter."""
    make_user(db, "agent")
    login_staff(testapp, "agent")
    refused_json(testapp.get(f"/api/v1/staff/inquiries?escalated={value}", status=422))
    assert testapp.get("/api/v1/staff/inquiries?escalated=false", status=200)
