"""Issue 14: the client's address behind our proxies (defect 3), the server-side session store's
rules (defect 2) and the production secret's strength (defect 10)."""

from __future__ import annotations

import secrets

import pytest
from pyramid.exceptions import ConfigurationError

from kariya import settings as kariya_settings
from kariya.security.http import ClientAddress, content_security_policy
from kariya.security.sessions import MemoryStore
from tests.unit.test_settings import GOOD_SECRET, LINE_CHANNEL, production

PROXIES = ClientAddress(("10.0.0.1", "10.1.0.0/16"))


@pytest.mark.parametrize(
    "peer,forwarded,client",
    [
        ("192.0.2.10", "198.51.100.7", "192.0.2.10"),  # not our proxy: its claim is ignored
        ("10.0.0.1", None, "10.0.0.1"),
        ("10.0.0.1", "198.51.100.7", "198.51.100.7"),
        ("10.0.0.1", "203.0.113.66, 198.51.100.7, 10.1.2.3", "198.51.100.7"),  # from the right
        ("10.0.0.1", "not-an-address", "10.0.0.1"),
        ("10.0.0.1", "10.1.0.5", "10.1.0.5"),  # only proxies: the first hop
        ("10.0.0.1", "2001:db8::1", "2001:db8::1"),
    ],
)
def test_the_client_is_the_last_address_that_is_not_our_proxy(peer, forwarded, client):
    assert PROXIES(peer, forwarded) == client


def test_without_configured_proxies_the_peer_is_the_client():
    assert ClientAddress(())("10.0.0.1", "198.51.100.7") == "10.0.0.1"


def test_a_proxy_setting_that_is_no_address_is_refused():
    with pytest.raises(ConfigurationError, match="trusted_proxies"):
        kariya_settings.load(
            {"kariya.session_secret": "x", "kariya.trusted_proxies": "proxy.example"}, environ={}
        )


def test_the_policy_has_no_unsafe_inline_and_names_the_nonce():
    policy = content_security_policy("abc")
    assert "'unsafe-inline'" not in policy and "'nonce-abc'" in policy
    assert "frame-ancestors 'none'" in policy and "nonce" not in content_security_policy(None)


def test_a_session_deleted_meanwhile_is_never_written_back():
    store = MemoryStore()
    assert store.save("a", "{}", 60, existing=False)
    assert not store.save("a", "{}", 60, existing=False)  # ids are never reused
    store.delete("a")  # a logout
    assert not store.save("a", "{}", 60, existing=True)  # a slower request cannot revive it
    assert store.load("a") is None


@pytest.mark.parametrize(
    "secret",
    [
        "a" * 40,  # the review's: 40 characters of one letter
        "ab" * 20,
        "0123456789" * 4,
        secrets.token_hex(16),  # 32 hex digits: about 115 bits by their own frequencies
        "short-but-random-Xq9",
    ],
)
def test_production_refuses_a_weak_secret(secret):
    environ = {"KARIYA_SESSION_SECRET": secret, **LINE_CHANNEL}
    with pytest.raises(ConfigurationError, match="session_secret is too weak"):
        kariya_settings.load(production(), environ=environ)


@pytest.mark.parametrize("secret", [GOOD_SECRET, secrets.token_urlsafe(48), secrets.token_hex(32)])
def test_production_accepts_a_random_secret(secret):
    kariya_settings.load(production(), environ={"KARIYA_SESSION_SECRET": secret, **LINE_CHANNEL})


@pytest.mark.parametrize(
    "key,value,message",
    [("kariya.redis_url", "", "redis_url"), ("kariya.public_url", "http://x.jp", "https://")],
)
def test_production_needs_redis_and_an_https_public_url(key, value, message):
    environ = {"KARIYA_SESSION_SECRET": GOOD_SECRET, **LINE_CHANNEL}
    with pytest.raises(ConfigurationError, match=message):
        kariya_settings.load(production(**{key: value}), environ=environ)
