"""When the session store (Redis) fails after the view has run, a request that changed its
session (a login, a LINE login's start) answers the Japanese 503, not a success that did not
stick (issue 14, I-10; kariya/security/sessions.py). tests/integration/test_faults.py stops a
real Redis under a burst."""

import redis

PERSON = "U" + "1" * 32


def without_the_store(testapp, monkeypatch) -> None:
    store = testapp.app.registry["kariya.session_store"]
    monkeypatch.setattr(store, "client", redis.Redis(port=1, socket_connect_timeout=0.5))


def test_a_login_whose_session_cannot_be_kept_answers_503(testapp, monkeypatch):
    without_the_store(testapp, monkeypatch)
    answer = testapp.post_json("/dev/line-login", {"line_user_id": PERSON}, status=503)
    assert answer.json["error"] == "UNAVAILABLE"
    assert "時間をおいて" in answer.json["message"] and answer.headers["Retry-After"] == "30"
    assert "Set-Cookie" not in answer.headers
    monkeypatch.undo()  # the store is back: the same login works
    testapp.post_json("/dev/line-login", {"line_user_id": PERSON}, status=200)
    assert testapp.get("/api/v1/me").json["line_user_id"] == PERSON


def test_line_login_does_not_send_the_resident_to_line_without_its_verifier(testapp, monkeypatch):
    """The PKCE verifier and state are kept in the session before the resident goes to LINE;
    lost, the resident would come back to 「ログインの受付時間が過ぎました」."""
    without_the_store(testapp, monkeypatch)
    page = testapp.get("/login/line", status=503)
    assert "ただいま利用できません" in page.text and "Location" not in page.headers


def test_a_request_that_keeps_no_session_is_answered_as_usual(testapp, monkeypatch):
    without_the_store(testapp, monkeypatch)
    assert testapp.get("/api/v1/profile-options").status_code == 200
