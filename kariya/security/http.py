"""The HTTP edge, in one tween: who the client is, which URL we answer as, the browser's guards.

- The client address: the peer's, or, only when the peer is one of our own proxies
  (`kariya.trusted_proxies`), the last address in X-Forwarded-For that is not one of them. The
  tween writes it to REMOTE_ADDR and drops X-Forwarded-For, so `request.remote_addr` and
  `request.client_addr` give the real address everywhere (the login limits, the records).
- The public URL: absolute URLs (redirects, links, the LINE callback) are built from
  `kariya.public_url`, never from the Host header a client sends.
- Security headers on every answer: a Content-Security-Policy with a nonce per request (the
  templates' scripts carry `nonce="{{ request.csp_nonce }}"`; no inline style attributes),
  no framing, nosniff, a same-origin Referrer-Policy, and HSTS where the public URL is https.
"""

from __future__ import annotations

import ipaddress
import secrets
from urllib.parse import urlsplit

from pyramid.tweens import INGRESS

from kariya.settings import settings_of

ORIGINAL_FORWARDED_FOR = "kariya.forwarded_for"


class ClientAddress:
    """Finds the client's address behind our configured proxies (and only those)."""

    def __init__(self, proxies: tuple[str, ...]):
        self.networks = tuple(ipaddress.ip_network(p, strict=False) for p in proxies)

    def _trusted(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address.strip())
        except ValueError:
            return False
        return any(ip in network for network in self.networks)

    def __call__(self, peer: str, forwarded_for: str | None) -> str:
        if not self.networks or not forwarded_for or not self._trusted(peer):
            return peer
        hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
        for hop in reversed(hops):  # our proxies append: read from the right
            if not self._trusted(hop):
                try:
                    return str(ipaddress.ip_address(hop))
                except ValueError:
                    return peer  # garbage where an address should be: trust nothing
        return hops[0] if hops else peer


def _public_parts(public_url: str) -> tuple[str, str, str, str]:
    """(scheme, host header, port, script name) of the configured public URL."""
    parts = urlsplit(public_url.rstrip("/"))
    scheme = parts.scheme or "http"
    port = str(parts.port or (443 if scheme == "https" else 80))
    host = parts.hostname or "localhost"
    default = (scheme, port) in (("http", "80"), ("https", "443"))
    return scheme, host if default else f"{host}:{port}", port, parts.path


def content_security_policy(nonce: str | None) -> str:
    scripts = "'self'" + (f" 'nonce-{nonce}'" if nonce else "")
    return (
        "default-src 'self'; "
        f"script-src {scripts}; "
        f"style-src {scripts}; "
        "img-src 'self' data:; "
        "connect-src 'self'; "
        "form-action 'self'; "
        "frame-ancestors 'none'; "
        "base-uri 'none'; "
        "object-src 'none'"
    )


def edge_tween_factory(handler, registry):
    settings = settings_of(registry)
    client_address = ClientAddress(settings.trusted_proxies)
    scheme, host, port, script_name = _public_parts(settings.public_url)
    hsts = (
        f"max-age={settings.hsts_seconds}"
        if scheme == "https" and settings.hsts_seconds > 0
        else None
    )

    def edge_tween(request):
        environ = request.environ
        forwarded = environ.pop("HTTP_X_FORWARDED_FOR", None)
        if forwarded is not None:
            environ[ORIGINAL_FORWARDED_FOR] = forwarded
        environ["REMOTE_ADDR"] = client_address(environ.get("REMOTE_ADDR") or "-", forwarded)
        environ["wsgi.url_scheme"] = scheme
        environ["HTTP_HOST"] = host
        environ["SERVER_PORT"] = port
        environ.pop("HTTP_X_FORWARDED_HOST", None)
        environ.pop("HTTP_X_FORWARDED_PROTO", None)
        if script_name:
            environ["SCRIPT_NAME"] = script_name
        response = handler(request)
        headers = response.headers
        headers.pop("X-Tm", None)  # pyramid_tm's commit hint, below us; never the client's
        nonce = request.__dict__.get("csp_nonce")  # only pages that used it carry one
        headers.setdefault("Content-Security-Policy", content_security_policy(nonce))
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("Referrer-Policy", "same-origin")
        headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        if hsts:
            headers.setdefault("Strict-Transport-Security", hsts)
        return response

    return edge_tween


def _csp_nonce(request) -> str:
    return secrets.token_urlsafe(18)


def includeme(config):
    config.add_request_method(_csp_nonce, "csp_nonce", reify=True)
    config.add_tween("kariya.security.http.edge_tween_factory", under=INGRESS)
