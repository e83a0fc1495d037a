"""Every route x every role (I-10, D-1; issue 14): each route the app registers, asked by
anonymous, a resident, store staff, a call-centre agent, the secretariat and the city, answers
as the table below says. The routes come from the app's own introspector, so a new route without
an entry fails this test (add it to ROUTES), and an entry for a route that is gone fails too.

The expected answer is written once per route (and method): who may pass its gate. Everyone else
is refused as the app refuses (`refusal`): anonymous gets 401 (JSON under /api/ and /dev/), the
staff login (staff pages) or the LINE login (residents' pages); a signed-in role gets 403
FORBIDDEN. Those who may pass get the route's `ok` answer (200 unless the entry says otherwise).
Pages are asked with GET; unsafe methods are sent without a CSRF token, so that nothing is done:
the permission gate comes first, then CSRF, so a role that may pass gets 403 CSRF and one that
may not gets 403 FORBIDDEN (or 401, or a login redirect). No answer is ever a 5xx, and no role
outside an entry ever gets a 2xx. Placeholders are filled with the ids of a seeded campaign (a
store, a resident with a use, a batch, an adjustment, a notice, a bank change, an inquiry with
a transfer, the jobs, version 1 of the documents).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import time

import pytest
import webtest

from kariya.audit.access import Viewer
from kariya.callcenter import inquiries, transfers
from kariya.clock import FixedClock
from kariya.coupons import acquisition, ticker
from kariya.materials import jobs as material_jobs
from kariya.payouts import adjustments, bank_accounts, batches
from kariya.redemptions import uses
from kariya.reports import jobs as report_jobs
from kariya.settings import Settings
from kariya.stores import notices
from tests.helpers import (
    ROUND1,
    load_campaign,
    login_resident,
    login_staff,
    make_person,
    make_store,
    make_user,
)

ANON, RESIDENT, STORE, AGENT, SECRETARIAT, CITY = (
    "anonymous",
    "resident",
    "store",
    "agent",
    "secretariat",
    "city",
)
IDENTITIES = (ANON, RESIDENT, STORE, AGENT, SECRETARIAT, CITY)
SIGNED_IN = frozenset(IDENTITIES) - {ANON}
EVERYONE = frozenset(IDENTITIES)
STAFF = frozenset({STORE, AGENT, SECRETARIAT, CITY})
NOW = dt.datetime(2024, 1, 16, 10, 0, tzinfo=ROUND1.tzinfo)  # round 1 open, 1-15 Jan ended


@dataclasses.dataclass(frozen=True)
class Gate:
    """Who passes a route's gate for one method, and what they and the others get."""

    who: frozenset
    ok: int | tuple = 200  # the answer to those who pass (GET; unsafe methods get 403 CSRF)
    refusal: int | None = None  # the answer to the others, where it is not the app's rule
    params: tuple = ()  # (placeholder, the seed's name for its value, or the value itself)
    query: str = ""  # a query string, its {names} from the seed
    csrf: bool = True  # the view requires the CSRF token (False: the dev stand-ins)


def gate(*who, **kw) -> Gate:
    roles = frozenset().union(*(w if isinstance(w, frozenset) else {w} for w in who))
    return Gate(roles, **kw)


# --- the table: one entry per route (and method where they differ) ------------------------------

PUBLIC = gate(EVERYONE)
R, S, A, C = RESIDENT, STORE, AGENT, SECRETARIAT  # shorthands below (C: the secretariat)
SEC_CITY = frozenset({SECRETARIAT, CITY})
CALL_CENTRE = frozenset({AGENT, SECRETARIAT})
INQUIRY_READERS = frozenset({AGENT, SECRETARIAT, CITY})

ROUTES: dict[str, Gate | dict[str, Gate]] = {
    # The public pages, the logins and the health checks.
    "home": gate(EVERYONE, ok=(200, 302)),  # signed in: to the role's home
    "login": {"GET": PUBLIC, "POST": PUBLIC},  # the form's POST needs its CSRF token
    "logout": gate(EVERYONE),
    # The staff's second factor: the login's second step (nothing pending: back to the login)
    # and the enrolment (a staff page; its POST is checked after the CSRF token).
    "login.code": {"GET": gate(EVERYONE, ok=302), "POST": PUBLIC},
    "staff.second_factor": {"GET": gate(STAFF), "POST": PUBLIC},
    "health": PUBLIC,
    "health.live": PUBLIC,
    # The development stand-ins (only where their settings are on; production has none).
    "dev.clock": gate(EVERYONE, ok=422, csrf=False),  # an empty body
    "dev.line_login": gate(EVERYONE, ok=422, csrf=False),
    "dev.line_simulator": gate(EVERYONE, ok=400, params=(("subpath", "oauth2/v2.1/authorize"),)),
    # The JSON API (DESIGN §5): residents'.
    "api.openapi": PUBLIC,
    "api.profile_options": PUBLIC,
    # a resident's session or none; DELETE: the withdrawal (DESIGN §5.1)
    "api.me": {"GET": gate(R, refusal=401), "DELETE": gate(R)},
    "api.me.profile": gate(R),
    "api.rounds.current": PUBLIC,
    "api.acquisitions": gate(R),
    "api.coupons": gate(R),
    "api.stores": PUBLIC,
    "api.qr": gate(R, params=(("token", "token"),)),
    "api.redemptions": gate(R),
    "api.callcenter.hours": PUBLIC,
    # The staff's (DESIGN §5.2).
    "api.staff.me": gate(STAFF, refusal=401),  # 401 without a staff session
    "api.staff.dashboard": gate(SEC_CITY),
    "api.staff.inquiries": {"GET": gate(INQUIRY_READERS), "POST": gate(CALL_CENTRE)},
    "api.staff.inquiry": gate(INQUIRY_READERS, params=(("id", "escalated"),)),
    # `answer` is the city's, the other events the call centre's (kariya.callcenter).
    "api.staff.inquiry_events": gate(INQUIRY_READERS, params=(("id", "inquiry"),)),
    "api.staff.residents": gate(CALL_CENTRE, query="q={person_ref}&inquiry={inquiry}"),
    "api.staff.resident": gate(
        CALL_CENTRE, params=(("person_ref", "person_ref"),), query="inquiry={inquiry}"
    ),
    "api.staff.access_log": gate(SEC_CITY),
    # The fraud watch (issue 15): the secretariat reviews, the city decides; both read. No case
    # is open in the seed, so one case's pages answer 404 to those who pass.
    "api.staff.fraud_cases": gate(SEC_CITY),
    "api.staff.fraud_case": gate(SEC_CITY, ok=404, params=(("id", "999999"),)),
    "api.staff.fraud_case_events": gate(SEC_CITY, params=(("id", "999999"),)),
    "api.staff.audit_log": gate(SEC_CITY),
    "api.documents": gate(STAFF, params=(("kind", "store_manual"),)),  # terms: anyone
    "api.staff.documents": gate(STAFF),
    "api.staff.store_manual_pdf": gate(STAFF),
    "api.staff.document_versions": {"GET": gate(STAFF), "POST": gate(C)},
    "api.staff.document_version": {"GET": gate(STAFF), "PUT": gate(C)},
    # Each event's role is checked by kariya.documents.versions.act (city or secretariat).
    "api.staff.document_events": gate(STAFF),
    "api.staff.document_sections": gate(STAFF),
    # Residents' pages.
    "resident.home": gate(R),
    "resident.profile": gate(R),
    "resident.wallet": gate(R),
    "resident.history": gate(R),
    "resident.stores": PUBLIC,
    "resident.store": PUBLIC,
    "resident.excluded": PUBLIC,
    "resident.help": PUBLIC,
    "resident.withdraw": gate(R),  # the confirmation (GET) and the withdrawal (POST)
    "resident.withdrawn": PUBLIC,  # after the withdrawal the session has ended
    "resident.terms": {"GET": PUBLIC, "POST": gate(R)},
    "resident.use": gate(R, params=(("token", "token"),)),
    "resident.login_line": gate(EVERYONE, ok=302),  # to LINE, or home when signed in
    "resident.login_line_callback": gate(EVERYONE, ok=400),  # without LINE's state
    # The store portal: its own store's only.
    "store.home": gate(S),
    "store.materials": gate(S),
    "store.redemptions": gate(S),
    "store.void": gate(S, params=(("id", "redemption"),)),
    "store.statements": gate(S),
    "store.statement_xlsx": gate(S, params=(("id", "batch"),)),
    "store.statement_pdf": gate(S, params=(("id", "batch"),)),
    "store.notices": gate(S),
    "store.notice_read": gate(S, params=(("id", "notice"),)),
    "store.bank": gate(S),
    "store.bank_withdraw": gate(S, params=(("id", "bank_request"),)),
    "store.till": gate(S),  # the code of the day and the staff PIN
    "store.till_off": gate(S),
    # The call centre's console: pages the agents'; its actions also the secretariat's (§5.2).
    "callcenter.home": gate(A),
    "callcenter.inquiries": gate(CALL_CENTRE),
    "callcenter.inquiry": gate(A, params=(("id", "inquiry"),)),
    "callcenter.inquiry_event": gate(CALL_CENTRE, params=(("id", "inquiry"),)),
    "callcenter.inquiry_note": gate(CALL_CENTRE, params=(("id", "inquiry"),)),
    "callcenter.inquiry_link": gate(CALL_CENTRE, params=(("id", "inquiry"),)),
    "callcenter.inquiry_transfer": gate(A, params=(("id", "inquiry"),)),
    "callcenter.transfer_withdraw": gate(A, params=(("id", "transfer"),)),
    "callcenter.manual": gate(A),
    # The secretariat's screens.
    "secretariat.home": gate(C),
    "secretariat.tick": gate(C),
    "secretariat.workflows": gate(C),
    "secretariat.workflow_diagram": gate(C, params=(("name", "store"),)),
    "secretariat.ledger": gate(C),
    "secretariat.campaign": gate(C),
    "secretariat.materials": gate(C),
    "secretariat.materials_build": gate(C),
    "secretariat.materials_job": gate(C, params=(("job", "material_job"),)),
    "secretariat.materials_download": gate(C, ok=404, params=(("job", "material_job"),)),
    "secretariat.materials_store": gate(C, ok=302, query="code={code}"),  # to the store's set
    "secretariat.store_materials": gate(C),
    "secretariat.stores": gate(C),
    "secretariat.stores_template": gate(C),
    "secretariat.stores_import": gate(C),
    "secretariat.stores_import_preview": gate(C, ok=302),  # nothing uploaded: to the form
    "secretariat.stores_import_apply": gate(C),
    "secretariat.stores_import_cancel": gate(C),
    "secretariat.stores_import_errors": gate(C, ok=404),  # nothing uploaded
    "secretariat.store": gate(C),
    "secretariat.store_transition": gate(C),
    "secretariat.store_qr_reissue": gate(C),
    "secretariat.payouts": gate(C),
    "secretariat.payouts_build": gate(C),
    "secretariat.payout": gate(C, params=(("id", "batch"),)),
    "secretariat.payout_action": gate(C, params=(("id", "batch"),)),
    "secretariat.payout_zengin": gate(C, ok=409, params=(("id", "batch"),)),  # not approved
    "secretariat.payout_xlsx": gate(C, params=(("id", "batch"),)),
    "secretariat.notices": gate(C),
    "secretariat.notice": gate(C, params=(("id", "notice"),)),
    "secretariat.notice_retry": gate(C, params=(("id", "notice"),)),
    "secretariat.bank_requests": gate(C),
    "secretariat.bank_request": gate(C, params=(("id", "bank_request"),)),
    "secretariat.adjustments": gate(C),
    "secretariat.login_locks": gate(C),
    "secretariat.login_unlock": gate(C),
    "secretariat.second_factors": gate(C),
    "secretariat.second_factor_reset": gate(C),
    # The dashboard and the access log are one page for the city and the secretariat (C-1, D-1).
    "secretariat.dashboard": gate(SEC_CITY),
    "secretariat.dashboard_refresh": gate(SEC_CITY),
    "secretariat.handover": gate(C),
    "secretariat.handover_build": gate(C),
    "secretariat.handover_job": gate(C, params=(("job", "handover_job"),)),
    "secretariat.handover_download": gate(C, ok=404, params=(("job", "handover_job"),)),
    "secretariat.erasure_request": gate(C),
    "secretariat.callcenter": gate(SEC_CITY),  # the call centre's reports (C-2, C-3)
    "secretariat.inquiry": gate(INQUIRY_READERS, params=(("id", "escalated"),)),
    "secretariat.access_log": gate(SEC_CITY),
    "secretariat.fraud": gate(SEC_CITY),
    "secretariat.fraud_scan": gate(C),
    "secretariat.fraud_case": gate(SEC_CITY, ok=404, params=(("id", "999999"),)),
    "secretariat.fraud_event": gate(C, params=(("id", "999999"),)),
    "secretariat.access_log_csv": gate(SEC_CITY),
    "secretariat.staff_actions": gate(SEC_CITY),
    "secretariat.documents": gate(C),
    "secretariat.document_preview": gate(C),
    "secretariat.document": gate(C, params=(("kind", "store_manual"),)),
    "secretariat.document_new": gate(C, params=(("kind", "store_manual"),)),
    "secretariat.document_version": gate(C, params=(("kind", "store_manual"),)),
    "secretariat.document_edit": gate(C, params=(("kind", "store_manual"),)),
    "secretariat.document_event": gate(C, params=(("kind", "store_manual"),)),
    # The city's screens.
    "city.home": gate(CITY),
    "city.halt": gate(CITY),
    "city.resume": gate(CITY),
    "city.payouts": gate(CITY),
    "city.payout": gate(CITY, params=(("id", "batch"),)),
    "city.payout_action": gate(CITY, params=(("id", "batch"),)),
    "city.payout_xlsx": gate(CITY, params=(("id", "batch"),)),
    "city.adjustments": gate(CITY),
    "city.adjustment": gate(CITY, params=(("id", "adjustment"),)),
    "city.dashboard": gate(SEC_CITY),
    "city.dashboard_refresh": gate(SEC_CITY),
    "city.store_uses": gate(SEC_CITY),
    "city.exports": gate(CITY),
    "city.exports_start": gate(CITY),
    "city.export_job": gate(CITY, params=(("job", "export_job"),)),
    "city.export_download": gate(CITY, ok=404, params=(("job", "export_job"),)),  # not run
    "city.reports": gate(CITY),
    "city.report_weekly": gate(CITY, params=(("round", "1"),)),
    "city.report_final": gate(CITY),
    "city.handover": gate(CITY),
    "city.handover_download": gate(CITY, ok=404, params=(("job", "handover_job"),)),
    "city.erasure_decide": gate(CITY),
    # The city's answering desk (agents never answer for the city).
    "city.callcenter": gate(CITY),
    "city.inquiry": gate(CITY, params=(("id", "escalated"),)),
    "city.inquiry_answer": gate(CITY, params=(("id", "escalated"),)),
    "city.transfer": gate(CITY, params=(("id", "transfer"),)),
    "city.transfer_decide": gate(CITY, params=(("id", "transfer"),)),
    "city.access_log": gate(SEC_CITY),
    "city.fraud": gate(SEC_CITY),
    "city.fraud_case": gate(SEC_CITY, ok=404, params=(("id", "999999"),)),
    "city.fraud_event": gate(CITY, params=(("id", "999999"),)),
    "city.access_log_csv": gate(SEC_CITY),
    "city.staff_actions": gate(SEC_CITY),
    "city.documents": gate(CITY),
    "city.document_version": gate(CITY, params=(("kind", "store_manual"),)),
    "city.document_event": gate(CITY, params=(("kind", "store_manual"),)),
}
# Placeholders every route fills the same way (the others come from each entry's params).
DEFAULTS = {"code": "code", "kind": "store_manual", "number": "1", "id": "1"}


# --- the seeded campaign ------------------------------------------------------------------------


@dataclasses.dataclass
class Seed:
    ids: dict


@pytest.fixture
def seed(db, set_now, registry) -> Seed:
    load_campaign(db, total=60_000, rounds=6)
    store = make_store(db, "S0001", "かりや青果店")
    store.bank_code, store.branch_code, store.account_type = "0001", "004", "普通"
    store.account_number, store.account_holder_kana = "0000001", "カリヤセイカテン"
    person = make_person(db, 1)
    newcomer = make_person(db, 2)  # the same resident's new LINE account (a transfer)
    clock = FixedClock(ROUND1.replace(hour=10))
    ticker.run_due(db, clock, actor="test")
    acquisition.acquire(db, clock, person.id)
    used = uses.redeem(
        db, FixedClock(ROUND1.replace(hour=12, minute=30)), person.id, store.qr_token, 2, 2500
    )
    db.commit()
    set_now(NOW)
    clock, settings = FixedClock(NOW), Settings()
    batch = batches.build(db, clock, settings, actor="staff:secretariat")
    adjustment = adjustments.propose(
        db,
        clock,
        store_code="S0001",
        amount=100,
        reason="読取不良の補填",
        actor="staff:secretariat",
        max_amount=settings.adjustments.max_amount,
    )
    notice = notices.publish(
        db, clock, title="お知らせ", body="本文です。", actor="staff:secretariat"
    )
    change = bank_accounts.request_change(
        db,
        clock,
        settings,
        store,
        {
            "bank_code": "0001",
            "branch_code": "004",
            "account_type": "普通",
            "account_number": "0000002",
            "account_holder_kana": "カリヤセイカテン",
        },
        actor="staff:store",
    )
    agent = Viewer("staff:agent", "agent")
    inquiry = inquiries.create(
        db,
        clock,
        settings,
        agent,
        caller_type="resident",
        channel="phone",
        category="use",
        subject="機種変更",
        person_ref=person.ref,
    )
    inquiries.apply(db, clock, settings, agent, inquiry, "take", note="")
    transfer, check = transfers.request(
        db,
        clock,
        agent,
        inquiry,
        new_ref=newcomer.ref,
        age_band="70s",
        area="kariya",
        codes=[used["confirmation_code"]],
    )
    assert transfer is not None, check
    escalated = inquiries.create(
        db,
        clock,
        settings,
        agent,
        caller_type="store",
        channel="phone",
        category="use",
        subject="市の判断が必要なお問い合わせ",
        store_code="S0001",
    )
    inquiries.apply(db, clock, settings, agent, escalated, "take", note="")
    inquiries.apply(db, clock, settings, agent, escalated, "escalate", note="市に確認します")
    # The jobs are recorded, not run (nothing is enqueued here).
    material_job = material_jobs.start_job(db, registry.settings, "staff:secretariat")
    export_job = report_jobs.start(
        db, clock, kind="uses", fmt="csv", encoding="utf-8-sig", actor="staff:city", role="city"
    )
    handover_job = report_jobs.start(
        db,
        clock,
        kind=report_jobs.HANDOVER,
        fmt="zip",
        encoding="utf-8-sig",
        actor="staff:secretariat",
        role="secretariat",
    )
    db.commit()
    return Seed(
        ids={
            "code": "S0001",
            "token": store.qr_token,
            "person_ref": person.ref,
            "batch": batch.id,
            "adjustment": adjustment.id,
            "notice": notice.id,
            "bank_request": change.id,
            "redemption": used["id"],
            "inquiry": inquiry.id,
            "escalated": escalated.id,
            "transfer": transfer.id,
            "material_job": material_job.id,
            "export_job": export_job.id,
            "handover_job": handover_job.id,
        }
    )


# --- asking every route as everyone ----------------------------------------------------------


def _routes(registry) -> dict[str, tuple[str, list[str]]]:
    """Every route the app registers: name -> (pattern, the methods its views answer)."""
    methods: dict[str, set[str]] = {}
    for view in registry.introspector.get_category("views"):
        item = view["introspectable"]
        found = item["request_methods"]
        found = (found,) if isinstance(found, str) else tuple(found or ("GET",))
        methods.setdefault(item["route_name"], set()).update(found)
    return {
        item["name"]: (item["pattern"], sorted(methods.get(item["name"], {"GET"})))
        for item in (r["introspectable"] for r in registry.introspector.get_category("routes"))
        if not item["name"].startswith("__")  # the static files' view
    }


def _gates(entry: Gate | dict[str, Gate], methods: list[str]) -> dict[str, Gate]:
    if isinstance(entry, Gate):
        return dict.fromkeys(methods, entry)
    return entry


def _path(pattern: str, entry: Gate, seed: Seed) -> str:
    """The pattern with every placeholder filled: a seeded id, or the first alternative of a
    placeholder that lists them ({action:approve|reject})."""
    values = {**DEFAULTS, **dict(entry.params)}

    def fill(match: re.Match) -> str:
        name, regex = match.group(1), match.group(2) or ""
        if "|" in regex:
            return regex.split("|")[0]
        value = values.get(name)
        assert value is not None, f"no value for {{{name}}} in {pattern}"
        return str(seed.ids.get(value, value))

    path = "/" + re.sub(r"\{(\w+)(?::((?:[^{}]|\{[^{}]*\})*))?\}", fill, pattern).lstrip("/")
    path = path.replace("*subpath", str(values.get("subpath", "")))
    if entry.query:
        path += "?" + entry.query.format(**seed.ids)
    return path


def _code(response) -> str:
    """The error code of a refusal: the JSON's `error`, or the page's エラー番号."""
    if response.content_type == "application/json":
        return str(response.json.get("error", ""))
    found = re.search(r"エラー番号: \d+ / (\w+)", response.text)
    return found.group(1) if found else ""


def _refused(who: str, path: str, entry: Gate, response) -> str | None:
    """Why `response` is not the refusal `who` must get, or None."""
    status = response.status_int
    if entry.refusal is not None:
        wanted = entry.refusal if isinstance(entry.refusal, tuple) else (entry.refusal,)
        return None if status in wanted else f"{status}, not {entry.refusal}"
    if who == ANON:
        if path.startswith(("/api/", "/dev/")):
            return None if status == 401 else f"{status}, not 401"
        login = "/login?" if path.startswith(STAFF_PREFIXES) else "/login/line?"
        location = response.headers.get("Location", "")
        if status == 302 and login in location:
            return None
        return f"{status} {location}, not a redirect to {login}"
    if status == 403 and _code(response) == "FORBIDDEN":
        return None
    return f"{status} {_code(response)}, not 403 FORBIDDEN"


def _passed(method: str, entry: Gate, response) -> str | None:
    """Why `response` is not what one who passes the gate gets, or None."""
    status = response.status_int
    if method not in ("GET", "HEAD") and entry.csrf:
        # Sent without the token: past the permission gate, refused by the CSRF check.
        if status == 403 and _code(response) == "CSRF":
            return None
        return f"{status} {_code(response)}, not 403 CSRF"
    wanted = entry.ok if isinstance(entry.ok, tuple) else (entry.ok,)
    return None if status in wanted else f"{status} {_code(response)}, not {entry.ok}"


STAFF_PREFIXES = ("/secretariat", "/city", "/callcenter", "/store/", "/staff/")


@pytest.fixture
def clients(app, db, seed) -> dict[str, webtest.TestApp]:
    """A browser per identity: anonymous, the seeded resident (through the LINE stand-in), and
    one account per staff role (the store's bound to the seeded store)."""

    def browser() -> webtest.TestApp:
        return webtest.TestApp(
            app, extra_environ={"HTTP_HOST": "localhost", "REMOTE_ADDR": "10.0.0.1"}
        )

    apps = {who: browser() for who in IDENTITIES}
    login_resident(apps[RESIDENT], f"U{1:032x}", profile=False)
    for role in (AGENT, SECRETARIAT, CITY):
        make_user(db, role)
    make_user(db, STORE, STORE, store_code="S0001")
    for role in STAFF:
        login_staff(apps[role], role)
    return apps


def test_the_table_names_every_route_and_only_routes_that_exist(app, registry):
    routes = _routes(registry)
    missing = sorted(set(routes) - set(ROUTES))
    assert missing == [], f"routes without an entry in ROUTES (add them): {missing}"
    assert sorted(set(ROUTES) - set(routes)) == [], "entries for routes that are gone"
    for name, entry in ROUTES.items():
        if isinstance(entry, dict):
            assert sorted(entry) == routes[name][1], f"{name}: the methods are {routes[name][1]}"
    assert len(routes) > 140


def test_every_route_answers_every_role_as_its_entry_says(registry, clients, seed):
    started = time.perf_counter()
    wrong, asked = [], 0
    for name, (pattern, methods) in sorted(_routes(registry).items()):
        for method, entry in _gates(ROUTES[name], methods).items():
            path = _path(pattern, entry, seed)
            for who in IDENTITIES:
                response = clients[who].request(path, method=method, expect_errors=True)
                asked += 1
                status = response.status_int
                if status >= 500:
                    wrong.append(f"{who:12} {method} {path}: {status}")
                    continue
                if who in entry.who:
                    problem = _passed(method, entry, response)
                else:
                    problem = _refused(who, path, entry, response)
                    if 200 <= status < 300:
                        problem = f"{status}: a role outside the entry got through"
                if problem:
                    wrong.append(f"{who:12} {method} {path}: {problem}")
    seconds = time.perf_counter() - started
    assert wrong == [], "\n".join(wrong)
    assert asked > 900 and seconds < 120, (asked, seconds)
