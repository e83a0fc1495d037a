"""Residents' login through LINE Login v2.1 (OpenID Connect), LINE.md "Login".

Only friends of the city's official account may log in (P-1). The flow:

1. `LineLogin.start` keeps a random `state`, `nonce` and PKCE `code_verifier` (with the page to
   return to) in the person's session and returns LINE's authorize URL.
2. `LineLogin.finish` takes the callback's parameters: checks `state` (constant time) and LINE's
   `error`, exchanges the code at the token endpoint, verifies the ID token locally (HS256 with the
   channel secret and nothing else; `iss`, `aud`, `exp` against our clock, `nonce` in constant
   time), asks the friendship endpoint, and only then finds or creates the person.

Every refusal is logged as a warning with its reason (never a token or a code) and raised as a
`DomainError` carrying a Japanese message; nothing is written and nobody is logged in.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import hashlib
import hmac
import logging
import re
import secrets
from urllib.parse import urlencode

import httpx
import jwt
from sqlalchemy.orm import Session

from kariya.errors import DomainError
from kariya.residents import profiles, withdrawal
from kariya.residents.models import Person
from kariya.settings import Settings, settings_of

log = logging.getLogger(__name__)

ISSUER = "https://access.line.me"
ALGORITHM = "HS256"
SCOPE = "openid profile"
SESSION_KEY = "line_login"
# A login must come back within the life of LINE's authorization code.
PENDING_LIFETIME = dt.timedelta(minutes=10)
# Tolerated difference between LINE's clock and ours when checking `exp`.
CLOCK_LEEWAY = dt.timedelta(seconds=60)
LINE_USER_ID = re.compile(r"U[0-9a-f]{32}")


class LineLoginFailed(DomainError):
    code = "LINE_LOGIN_FAILED"
    status = 400
    message = "LINEでのログインを完了できませんでした。お手数ですが、もう一度ログインしてください。"
    title = "ログインできませんでした"

    def __init__(self, message: str | None = None, *, next_path: str = "", **kw):
        super().__init__(message, **kw)
        self.next_path = next_path


class LineLoginCancelled(LineLoginFailed):
    code = "LINE_LOGIN_CANCELLED"
    message = (
        "LINEでのログインが取り消されました。割引券を受け取るには、"
        "LINEの画面で「許可する」を押してログインしてください。"
    )
    title = "ログインが取り消されました"


class LineLoginExpired(LineLoginFailed):
    code = "LINE_LOGIN_EXPIRED"
    message = "ログインの受付時間が過ぎました。お手数ですが、もう一度ログインしてください。"
    title = "もう一度ログインしてください"


class LineUnavailable(LineLoginFailed):
    code = "LINE_UNAVAILABLE"
    status = 503
    message = "ただいまLINEと通信できません。少し時間をおいて、もう一度お試しください。"
    title = "ただいまログインできません"


class AccountMoved(LineLoginFailed):
    """A record whose coupons the call centre moved to a new account (a lost phone)."""

    code = "ACCOUNT_MOVED"
    status = 403
    message = profiles.AccountMoved.message
    title = "このアカウントは移行済みです"


class NotFriend(LineLoginFailed):
    """P-1: only friends of the city's LINE official account may take part."""

    code = "NOT_FRIEND"
    status = 403
    message = (
        "割引券は刈谷市LINE公式アカウントのお友だちが対象です。"
        "お友だち追加をしてから、もう一度ログインしてください。"
    )
    title = "LINE公式アカウントのお友だち追加をお願いします"


@dataclasses.dataclass(frozen=True)
class LineConfig:
    channel_id: str
    channel_secret: str
    authorize_url: str
    token_url: str
    friendship_url: str
    redirect_uri: str
    timeout: float = 10.0
    # The key of the LINE ids' hashes (kariya.residents.withdrawal): a returning account is
    # linked to its withdrawn records when its new record is made.
    hash_key: bytes = dataclasses.field(default=b"", repr=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> LineConfig:
        line = settings.line
        return cls(
            channel_id=line.channel_id,
            channel_secret=line.channel_secret,
            authorize_url=line.authorize_url,
            token_url=line.token_url,
            friendship_url=line.friendship_url,
            redirect_uri=line.redirect_uri,
            timeout=line.timeout_seconds,
            hash_key=withdrawal.hash_key(settings),
        )


@dataclasses.dataclass(frozen=True)
class LoginResult:
    person: Person
    next_path: str
    friendship_status_changed: bool = False


def safe_path(value: str | None) -> str:
    """A same-site path to return to, or "" (never an open redirect)."""
    value = value or ""
    if (
        not value.startswith("/")
        or value.startswith("//")
        or "\\" in value
        or any(ord(c) < 0x20 or ord(c) == 0x7F for c in value)
        or len(value) > 1000
    ):
        return ""
    return value


def pkce_challenge(verifier: str) -> str:
    """RFC 7636 S256: BASE64URL(SHA256(ASCII(code_verifier))) without padding."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _same(a, b) -> bool:
    """Constant-time comparison of two strings (False when either is not a string)."""
    if not isinstance(a, str) or not isinstance(b, str):
        return False
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))


def _clip(value, limit: int = 60) -> str:
    """A value from outside, made safe to put in a log line."""
    return re.sub(r"[^A-Za-z0-9_.:/ -]", "?", str(value))[:limit]


class LineLogin:
    """The LINE Login client. One per application: it keeps a pooled HTTP client."""

    def __init__(self, config: LineConfig, http: httpx.Client | None = None):
        self.config = config
        self.http = http or httpx.Client(timeout=config.timeout, follow_redirects=False)

    # -- step 1 -----------------------------------------------------------------------------
    def start(self, session, clock, next_path: str = "") -> str:
        """Bind a new state, nonce and PKCE verifier to the session; return LINE's URL."""
        if not self.config.channel_id or not self.config.channel_secret:
            log.error("LINE login is not configured (kariya.line.channel_id / channel_secret)")
            raise LineUnavailable()
        state = secrets.token_urlsafe(32)
        nonce = secrets.token_urlsafe(32)
        verifier = secrets.token_urlsafe(64)  # 86 characters, within RFC 7636's 43..128
        session[SESSION_KEY] = {
            "state": state,
            "nonce": nonce,
            "verifier": verifier,
            "next": safe_path(next_path),
            "started": clock.now().isoformat(),
        }
        query = urlencode(
            {
                "response_type": "code",
                "client_id": self.config.channel_id,
                "redirect_uri": self.config.redirect_uri,
                "state": state,
                "scope": SCOPE,
                "nonce": nonce,
                "bot_prompt": "aggressive",
                "code_challenge": pkce_challenge(verifier),
                "code_challenge_method": "S256",
            }
        )
        separator = "&" if "?" in self.config.authorize_url else "?"
        return self.config.authorize_url + separator + query

    # -- step 2 -----------------------------------------------------------------------------
    def finish(self, db: Session, clock, session, params) -> LoginResult:
        """Check the callback and LINE's answers; return the person to log in.

        The pending login is taken out of the session first, so a state, nonce and verifier
        serve one callback only, whatever its outcome.
        """
        pending = session.pop(SESSION_KEY, None)
        next_path = safe_path(pending.get("next")) if isinstance(pending, dict) else ""

        def refuse(reason: str, error=LineLoginFailed):
            log.warning("LINE login refused: %s", reason, extra={"login_refused": error.code})
            return error(next_path=next_path)

        error = params.get("error")
        if error:
            description = params.get("error_description", "")
            reason = f"LINE answered error {_clip(error)} ({_clip(description, 120)})"
            cancelled = error in ("ACCESS_DENIED", "access_denied")
            raise refuse(reason, LineLoginCancelled if cancelled else LineLoginFailed)
        if not isinstance(pending, dict) or not {"state", "nonce", "verifier"} <= set(pending):
            raise refuse("no login in progress in this session", LineLoginExpired)
        if not _same(params.get("state"), pending["state"]):
            raise refuse("state does not match the session's")
        try:
            started = dt.datetime.fromisoformat(pending.get("started", ""))
        except (TypeError, ValueError):
            raise refuse("login start time unreadable", LineLoginExpired) from None
        if clock.now() - started > PENDING_LIFETIME:
            raise refuse("login took longer than the code lives", LineLoginExpired)
        code = params.get("code")
        if not code:
            raise refuse("callback without a code")

        tokens = self._exchange(code, pending["verifier"], refuse)
        claims = self._verify_id_token(tokens["id_token"], pending["nonce"], clock, refuse)
        if not self._is_friend(tokens["access_token"], refuse):
            raise refuse("not a friend of the official account (friendFlag false)", NotFriend)

        name = claims.get("name") if isinstance(claims.get("name"), str) else ""
        person = profiles.get_or_create(
            db, clock, claims["sub"], name, hash_key=self.config.hash_key
        )
        if person.blocked:
            raise refuse("the record moved to a new account (call centre transfer)", AccountMoved)
        log.info("LINE login", extra={"person_id": person.id})
        return LoginResult(
            person=person,
            next_path=next_path,
            friendship_status_changed=params.get("friendship_status_changed") == "true",
        )

    def _exchange(self, code: str, verifier: str, refuse) -> dict:
        """POST the code to the token endpoint (form); returns its JSON answer."""
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": self.config.redirect_uri,
            "client_id": self.config.channel_id,
            "client_secret": self.config.channel_secret,
            "code_verifier": verifier,
        }
        try:
            response = self.http.post(self.config.token_url, data=form)
        except httpx.HTTPError as exc:
            raise refuse(
                f"token endpoint unreachable: {type(exc).__name__}", LineUnavailable
            ) from None
        answer = _json(response)
        if response.status_code != 200:
            problem = _clip(answer.get("error", "")) if isinstance(answer, dict) else ""
            raise refuse(f"token endpoint answered {response.status_code} {problem}".rstrip())
        if not isinstance(answer, dict) or not all(
            isinstance(answer.get(k), str) and answer.get(k) for k in ("id_token", "access_token")
        ):
            raise refuse("token endpoint answer lacks id_token or access_token")
        return answer

    def _verify_id_token(self, token: str, nonce: str, clock, refuse) -> dict:
        """LINE.md step 4, each check explicit; PyJWT only checks the HS256 signature."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError:
            raise refuse("id_token is not a JWT") from None
        if header.get("alg") != ALGORITHM:
            raise refuse(f"id_token alg {_clip(header.get('alg'), 20)!r} is not {ALGORITHM}")
        try:
            claims = jwt.decode(
                token,
                key=self.config.channel_secret,
                algorithms=[ALGORITHM],
                # Times are checked below against our clock, audience and issuer explicitly.
                options={
                    "verify_signature": True,
                    "verify_exp": False,
                    "verify_nbf": False,
                    "verify_iat": False,
                    "verify_aud": False,
                    "verify_iss": False,
                    "require": [],
                },
            )
        except jwt.InvalidSignatureError:
            raise refuse("id_token signature does not verify with the channel secret") from None
        except jwt.InvalidTokenError as exc:
            raise refuse(f"id_token unreadable: {type(exc).__name__}") from None
        if not isinstance(claims, dict):
            raise refuse("id_token payload is not an object")
        if claims.get("iss") != ISSUER:
            raise refuse(f"id_token iss {_clip(claims.get('iss'))!r} is not {ISSUER}")
        if claims.get("aud") != self.config.channel_id:
            raise refuse(f"id_token aud {_clip(claims.get('aud'))!r} is not our channel")
        exp = claims.get("exp")
        if not isinstance(exp, int | float) or isinstance(exp, bool):
            raise refuse("id_token has no exp")
        now = clock.now()
        expires = dt.datetime.fromtimestamp(exp, dt.UTC)
        if now > expires + CLOCK_LEEWAY:
            raise refuse(f"id_token expired at {expires.isoformat()} (now {now.isoformat()})")
        if not _same(claims.get("nonce"), nonce):
            raise refuse("id_token nonce does not match the session's")
        sub = claims.get("sub")
        if not isinstance(sub, str) or not LINE_USER_ID.fullmatch(sub):
            raise refuse("id_token sub is not a LINE user id")
        return claims

    def _is_friend(self, access_token: str, refuse) -> bool:
        """GET the friendship status with the person's access token (LINE.md step 5)."""
        try:
            response = self.http.get(
                self.config.friendship_url, headers={"Authorization": f"Bearer {access_token}"}
            )
        except httpx.HTTPError as exc:
            raise refuse(
                f"friendship endpoint unreachable: {type(exc).__name__}", LineUnavailable
            ) from None
        answer = _json(response)
        if response.status_code != 200 or not isinstance(answer, dict):
            raise refuse(f"friendship endpoint answered {response.status_code}")
        return answer.get("friendFlag") is True


def _json(response: httpx.Response):
    try:
        return response.json()
    except ValueError:
        return None


def for_registry(registry) -> LineLogin:
    """The application's one client, made on first use."""
    client = registry.get("kariya.line_login")
    if client is None:
        client = registry["kariya.line_login"] = LineLogin(
            LineConfig.from_settings(settings_of(registry))
        )
    return client
