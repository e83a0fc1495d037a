"""A local stand-in for LINE Login v2.1 and the friendship API (development and tests only).

It answers on LINE's own paths and speaks the real protocol, so the real client in
`kariya.residents.line_login` runs unchanged against it:

- `GET  /oauth2/v2.1/authorize`: a Japanese form "LINEでログイン (シミュレーター)" where the developer
  picks the LINE user, the display name and the friendship; `POST` of that form redirects back to
  the registered `redirect_uri` with `code` and `state` (or `error=ACCESS_DENIED`).
- `POST /oauth2/v2.1/token`: checks client id and secret, the code (single use, 10 minutes), the
  redirect URI and the PKCE verifier; answers an access token and an ID token genuinely signed
  (HS256) with the channel secret.
- `POST /oauth2/v2.1/verify`: LINE's server-side ID token check.
- `GET  /friendship/v1/status`: `{"friendFlag": …}` for the access token's user.

For tests it can misbehave on request: the form field (or authorize query parameter) `sim_fault`
picks one of `FAULTS`, so tests can prove the real client refuses each.

It is a plain WSGI app. In the web app it is mounted under `/dev/line` only where
`kariya.line.simulator = true` (kariya/dev/__init__.py makes it, views/dev.py mounts it); tests
may also serve it on its own. Its two pages are Jinja2 templates (templates/dev/line_*.jinja2).
The time it stamps on codes and tokens is `environ[NOW_KEY]` when the host sets it (the app's
clock), else its own `now`. State lives in memory: one process (pserve) only.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import hashlib
import hmac
import json
import re
import secrets
import threading
import warnings
from collections.abc import Callable
from urllib.parse import urlencode

import jinja2
import jwt
from webob import Request, Response

from kariya.settings import PROJECT_ROOT, Settings

ISSUER = "https://access.line.me"
NOW_KEY = "kariya.line_simulator.now"
CODE_LIFETIME = dt.timedelta(minutes=10)
ID_TOKEN_LIFETIME = dt.timedelta(hours=1)
ACCESS_TOKEN_LIFETIME = dt.timedelta(days=30)
LINE_USER_ID = re.compile(r"U[0-9a-f]{32}")
WRONG_SECRET = "not-the-channel-secret-0123456789abcdef"

# Ways the simulator can misbehave, for tests and for trying the error pages by hand.
FAULTS = {
    "": "なし(正しく動作)",
    "wrong_secret": "別の秘密鍵で署名した ID トークン(偽造)",
    "tampered": "署名の後で中身を書き換えた ID トークン",
    "alg_none": "署名なし(alg: none)の ID トークン",
    "alg_hs512": "HS512 で署名した ID トークン",
    "wrong_aud": "別のチャネル宛て(aud 違い)の ID トークン",
    "wrong_iss": "別の発行者(iss 違い)の ID トークン",
    "expired": "有効期限切れの ID トークン",
    "wrong_nonce": "nonce 違いの ID トークン",
    "wrong_state": "state を書き換えて戻る",
}

# The authorize request's parameters the form carries over to its POST.
AUTHORIZE_PARAMS = (
    "response_type",
    "client_id",
    "redirect_uri",
    "state",
    "scope",
    "nonce",
    "bot_prompt",
    "code_challenge",
    "code_challenge_method",
)

FRIENDSHIP = {
    "friend": "友だち(追加済み)",
    "added": "このログインで友だち追加する",
    "not_friend": "友だちではない(追加しない・ブロック中)",
}


@dataclasses.dataclass
class Grant:
    """What one authorization code stands for."""

    redirect_uri: str
    code_challenge: str
    code_challenge_method: str
    nonce: str
    user_id: str
    name: str
    friend: bool
    fault: str
    issued_at: dt.datetime
    used: bool = False
    access_tokens: list[str] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class AccessToken:
    user_id: str
    friend: bool
    expires_at: dt.datetime


# Its pages are templates/dev/*.jinja2, autoescaped; the simulator also runs outside Pyramid (the
# tests serve it on its own), so it keeps its own Jinja2 environment.
_templates = jinja2.Environment(
    loader=jinja2.FileSystemLoader(PROJECT_ROOT / "templates"),
    autoescape=True,
    trim_blocks=True,
    lstrip_blocks=True,
)


def _render(template: str, **values) -> str:
    return _templates.get_template(template).render(**values)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))


def _json(status: int, body: dict) -> Response:
    response = Response(status=status, content_type="application/json", charset="utf-8")
    response.text = json.dumps(body, ensure_ascii=False)
    response.cache_control = "no-store"
    return response


def _oauth_error(status: int, error: str, description: str) -> Response:
    return _json(status, {"error": error, "error_description": description})


class LineSimulator:
    """The WSGI app. `redirect_uris` are the registered callback URLs (exact match)."""

    def __init__(
        self,
        channel_id: str,
        channel_secret: str,
        redirect_uris: list[str] | tuple[str, ...],
        now: Callable[[], dt.datetime] | None = None,
    ):
        self.channel_id = channel_id
        self.channel_secret = channel_secret
        self.redirect_uris = tuple(redirect_uris)
        self.now = now or (lambda: dt.datetime.now(dt.UTC))
        self._codes: dict[str, Grant] = {}
        self._tokens: dict[str, AccessToken] = {}
        self._lock = threading.Lock()
        # What happened, for tests: ("token", code, outcome) and the like. Never secrets.
        self.events: list[tuple[str, str]] = []

    @classmethod
    def from_settings(cls, settings: Settings) -> LineSimulator:
        return cls(
            settings.line.channel_id,
            settings.line.channel_secret,
            [settings.line.redirect_uri],
        )

    # -- WSGI ------------------------------------------------------------------------------
    def __call__(self, environ, start_response):
        request = Request(environ)
        routes = {
            ("GET", "/oauth2/v2.1/authorize"): self.authorize_page,
            ("POST", "/oauth2/v2.1/authorize"): self.authorize_submit,
            ("POST", "/oauth2/v2.1/token"): self.token,
            ("POST", "/oauth2/v2.1/verify"): self.verify,
            ("GET", "/friendship/v1/status"): self.friendship,
        }
        handler = routes.get((request.method, request.path_info))
        if handler is None:
            response = _json(404, {"message": "Not found"})
        else:
            response = handler(request, self._now(environ))
        return response(environ, start_response)

    def _now(self, environ) -> dt.datetime:
        now = environ.get(NOW_KEY)
        return now if isinstance(now, dt.datetime) else self.now()

    def _record(self, kind: str, outcome: str) -> None:
        with self._lock:
            self.events.append((kind, outcome))
            del self.events[:-200]

    # -- authorize -------------------------------------------------------------------------
    def _check_authorize(self, params) -> Response | None:
        """LINE shows its own error page (no redirect) for an unknown client or callback."""
        if params.get("client_id") != self.channel_id:
            return self._error_page("client_id が登録されたチャネルと一致しません。")
        if params.get("redirect_uri") not in self.redirect_uris:
            return self._error_page("redirect_uri が登録されたコールバックURLと一致しません。")
        return None

    def _redirect_error(self, params, error: str, description: str) -> Response:
        query = {"error": error, "error_description": description}
        if params.get("state"):
            query["state"] = params["state"]
        return self._redirect(params["redirect_uri"], query)

    def _redirect(self, uri: str, query: dict) -> Response:
        separator = "&" if "?" in uri else "?"
        response = Response(status=302)
        response.location = uri + separator + urlencode(query)
        return response

    def _protocol_problem(self, params) -> tuple[str, str] | None:
        if params.get("response_type") != "code":
            return "unsupported_response_type", "response_type must be code"
        scopes = (params.get("scope") or "").split()
        if "openid" not in scopes or not set(scopes) <= {"openid", "profile", "email"}:
            return "invalid_scope", "scope must contain openid"
        if not params.get("state"):
            return "invalid_request", "state is required"
        challenge = params.get("code_challenge", "")
        if challenge and params.get("code_challenge_method") != "S256":
            return "invalid_request", "code_challenge_method must be S256"
        return None

    def _authorize_refusal(self, params) -> Response | None:
        """A bad client or redirect_uri is answered here; a protocol error goes back to it."""
        refused = self._check_authorize(params)
        if refused:
            return refused
        problem = self._protocol_problem(params)
        return self._redirect_error(params, *problem) if problem else None

    def authorize_page(self, request, now) -> Response:
        params = request.GET
        refused = self._authorize_refusal(params)
        if refused:
            return refused
        hidden = [(k, v) for k, v in params.items() if k in AUTHORIZE_PARAMS]
        friendships = [
            (k, v) for k, v in FRIENDSHIP.items() if k != "added" or params.get("bot_prompt")
        ]
        body = _render(
            "dev/line_authorize.jinja2",
            channel_id=self.channel_id,
            action=request.path,
            hidden=hidden,
            user_id=params.get("sim_user_id") or "U" + secrets.token_hex(16),
            name=params.get("sim_name") or "テスト市民",
            friendships=friendships,
            chosen_friend=params.get("sim_friend", "friend"),
            faults=list(FAULTS.items()),
            chosen_fault=params.get("sim_fault", ""),
        )
        response = Response(content_type="text/html", charset="utf-8")
        response.text = body
        return response

    def authorize_submit(self, request, now) -> Response:
        params = request.POST
        refused = self._authorize_refusal(params)
        if refused:
            return refused
        if params.get("action") != "allow":
            self._record("authorize", "ACCESS_DENIED")
            return self._redirect_error(
                params, "ACCESS_DENIED", "The resource owner denied the request."
            )
        user_id = params.get("sim_user_id", "")
        if not LINE_USER_ID.fullmatch(user_id):
            return self._error_page(
                "LINEユーザーIDは U と英数字(0〜9、a〜f)32文字で入力してください。", 422
            )
        fault = params.get("sim_fault", "")
        if fault not in FAULTS:
            return self._error_page("誤動作の指定が正しくありません。", 422)
        friendship = params.get("sim_friend", "friend")
        code = secrets.token_urlsafe(16)
        grant = Grant(
            redirect_uri=params["redirect_uri"],
            code_challenge=params.get("code_challenge", ""),
            code_challenge_method=params.get("code_challenge_method", ""),
            nonce=params.get("nonce", ""),
            user_id=user_id,
            name=params.get("sim_name", "")[:100],
            friend=friendship in ("friend", "added"),
            fault=fault,
            issued_at=now,
        )
        with self._lock:
            self._purge(now)
            self._codes[code] = grant
        state = params["state"]
        if fault == "wrong_state":
            state = secrets.token_urlsafe(32)
        query = {"code": code, "state": state}
        if params.get("bot_prompt"):
            query["friendship_status_changed"] = "true" if friendship == "added" else "false"
        self._record("authorize", "code")
        return self._redirect(grant.redirect_uri, query)

    def _purge(self, now: dt.datetime) -> None:
        for code in [c for c, g in self._codes.items() if now - g.issued_at > CODE_LIFETIME * 3]:
            del self._codes[code]
        for token in [t for t, a in self._tokens.items() if a.expires_at < now]:
            del self._tokens[token]

    def _error_page(self, message: str, status: int = 400) -> Response:
        response = Response(status=status, content_type="text/html", charset="utf-8")
        response.text = _render("dev/line_error.jinja2", message=message)
        return response

    # -- token -----------------------------------------------------------------------------
    def token(self, request, now) -> Response:
        form = request.POST
        if request.content_type != "application/x-www-form-urlencoded":
            return _oauth_error(400, "invalid_request", "form-encoded body required")
        if form.get("grant_type") != "authorization_code":
            return _oauth_error(
                400, "unsupported_grant_type", "grant_type must be authorization_code"
            )
        if not _same(form.get("client_id", ""), self.channel_id) or not _same(
            form.get("client_secret", ""), self.channel_secret
        ):
            self._record("token", "invalid_client")
            return _oauth_error(400, "invalid_client", "invalid client_id or client_secret")
        code = form.get("code", "")
        with self._lock:
            grant = self._codes.get(code)
            if grant is None:
                outcome = "unknown code"
            elif grant.used:
                # A replayed code: refuse, and revoke what the first exchange gave (RFC 6749 4.1.2).
                for token in grant.access_tokens:
                    self._tokens.pop(token, None)
                outcome = "code already used"
            else:
                grant.used = True
                outcome = ""
        if outcome:
            self._record("token", outcome)
            return _oauth_error(400, "invalid_grant", outcome)
        if now - grant.issued_at > CODE_LIFETIME:
            self._record("token", "code expired")
            return _oauth_error(400, "invalid_grant", "code expired")
        if form.get("redirect_uri") != grant.redirect_uri:
            self._record("token", "redirect_uri mismatch")
            return _oauth_error(400, "invalid_grant", "redirect_uri does not match")
        verifier = form.get("code_verifier", "")
        if grant.code_challenge:
            expected = _b64url(hashlib.sha256(verifier.encode("ascii", "replace")).digest())
            if not re.fullmatch(r"[A-Za-z0-9._~-]{43,128}", verifier) or not _same(
                expected, grant.code_challenge
            ):
                self._record("token", "code_verifier mismatch")
                return _oauth_error(400, "invalid_grant", "code_verifier does not match")
        elif verifier:
            self._record("token", "unexpected code_verifier")
            return _oauth_error(400, "invalid_grant", "no code_challenge was sent")
        access_token = secrets.token_urlsafe(32)
        with self._lock:
            self._tokens[access_token] = AccessToken(
                grant.user_id, grant.friend, now + ACCESS_TOKEN_LIFETIME
            )
            grant.access_tokens.append(access_token)
        self._record("token", "issued")
        return _json(
            200,
            {
                "access_token": access_token,
                "expires_in": int(ACCESS_TOKEN_LIFETIME.total_seconds()),
                "id_token": self.id_token(grant, now),
                "refresh_token": secrets.token_urlsafe(32),
                "scope": "openid profile",
                "token_type": "Bearer",
            },
        )

    def id_token(self, grant: Grant, now: dt.datetime) -> str:
        """The ID token for a grant, with the grant's fault applied."""
        fault = grant.fault
        issued = now - ID_TOKEN_LIFETIME * 2 if fault == "expired" else now
        claims = {
            "iss": "https://access.example.com" if fault == "wrong_iss" else ISSUER,
            "sub": grant.user_id,
            "aud": "9999999999" if fault == "wrong_aud" else self.channel_id,
            "exp": int((issued + ID_TOKEN_LIFETIME).timestamp()),
            "iat": int(issued.timestamp()),
            "nonce": secrets.token_urlsafe(32) if fault == "wrong_nonce" else grant.nonce,
            "amr": ["linesso"],
            "name": grant.name,
        }
        if fault == "alg_none":
            header = _b64url(json.dumps({"typ": "JWT", "alg": "none"}).encode())
            payload = _b64url(json.dumps(claims).encode())
            return f"{header}.{payload}."
        algorithm = "HS512" if fault == "alg_hs512" else "HS256"
        key = WRONG_SECRET if fault == "wrong_secret" else self.channel_secret
        with warnings.catch_warnings():
            # HS512 with a 32-byte channel secret is short by RFC 7518; that is the fault.
            warnings.simplefilter("ignore", jwt.InsecureKeyLengthWarning)
            token = jwt.encode(claims, key, algorithm=algorithm)
        if fault == "tampered":
            header, _payload, signature = token.split(".")
            forged = dict(claims, sub="U" + "f" * 32)
            token = f"{header}.{_b64url(json.dumps(forged).encode())}.{signature}"
        return token

    # -- verify ----------------------------------------------------------------------------
    def verify(self, request, now) -> Response:
        form = request.POST
        token = form.get("id_token", "")
        try:
            claims = jwt.decode(
                token,
                self.channel_secret,
                algorithms=["HS256"],
                options={
                    "verify_exp": False,
                    "verify_iat": False,
                    "verify_nbf": False,
                    "verify_aud": False,
                    "verify_iss": False,
                },
            )
        except jwt.InvalidTokenError:
            return _oauth_error(400, "invalid_request", "Invalid IdToken.")
        if claims.get("iss") != ISSUER:
            return _oauth_error(400, "invalid_request", "Invalid IdToken Issuer.")
        if claims.get("aud") != form.get("client_id"):
            return _oauth_error(400, "invalid_request", "Invalid IdToken Audience.")
        if now.timestamp() > claims.get("exp", 0):
            return _oauth_error(400, "invalid_request", "IdToken expired.")
        if form.get("nonce") and not _same(str(claims.get("nonce", "")), form["nonce"]):
            return _oauth_error(400, "invalid_request", "Invalid IdToken Nonce.")
        if form.get("user_id") and claims.get("sub") != form["user_id"]:
            return _oauth_error(400, "invalid_request", "Invalid IdToken Subject Identifier.")
        return _json(200, claims)

    # -- friendship ------------------------------------------------------------------------
    def friendship(self, request, now) -> Response:
        authorization = request.headers.get("Authorization", "")
        token = authorization[len("Bearer ") :] if authorization.startswith("Bearer ") else ""
        with self._lock:
            found = self._tokens.get(token)
        if found is None or found.expires_at < now:
            self._record("friendship", "invalid token")
            return _json(
                401,
                {
                    "message": "Authentication failed. Confirm that the access token in the authorization header is valid."
                },
            )
        self._record("friendship", "friend" if found.friend else "not friend")
        return _json(200, {"friendFlag": found.friend})
