"""Parsing helpers shared by the API views: size, content type, JSON (parsed and checked at the
edge, views/inputs.py; typed fields with `inputs.fields`), the resident."""

from __future__ import annotations

from kariya import roles
from kariya.errors import DomainError, Invalid
from views import inputs

MAX_BODY = 16 * 1024


class TooLarge(DomainError):
    code = "TOO_LARGE"
    status = 413
    message = "送信された内容が大きすぎます。"


class WrongContentType(DomainError):
    code = "UNSUPPORTED_MEDIA_TYPE"
    status = 415
    message = "Content-Type は application/json にしてください。"


def json_body(request, *, required: bool = True, max_bytes: int = MAX_BODY) -> dict:
    length = request.content_length or 0
    if length > max_bytes:
        raise TooLarge()
    raw = request.body
    if len(raw) > max_bytes:
        raise TooLarge()
    if not raw.strip():
        if required:
            raise Invalid("JSON の本文がありません。", code="MALFORMED")
        return {}
    if request.content_type != "application/json":
        raise WrongContentType()
    body = inputs.parsed_json(request)  # checked at the edge (views/inputs.py)
    if not isinstance(body, dict):
        raise Invalid("JSON オブジェクトを送ってください。", code="MALFORMED")
    return body


def resident_id(request) -> int:
    identity = request.identity
    assert identity is not None and identity.role == roles.RESIDENT  # guaranteed by permission
    return identity.id


IDEMPOTENCY_HEADER = "Idempotency-Key"


def idempotency_key(request, fingerprint: bytes | None = None) -> tuple[str | None, str]:
    """The request's Idempotency-Key (None without one; 422 when malformed) and the hash its
    record keeps: of the body, or of `fingerprint` where the body holds a secret."""
    from kariya.residents import idempotency

    key = idempotency.check_key(request.headers.get(IDEMPOTENCY_HEADER))
    body = (request.body or b"") if fingerprint is None else fingerprint
    return key, idempotency.request_hash(request.method, request.path, body)


def idempotent(request, person_id: int, action, *, status: int = 201, fingerprint=None):
    """Run `action` once per Idempotency-Key (if the request carries one) and answer with the
    first result; sets the response status. The key's record keeps a hash of the request's body,
    or of `fingerprint` (bytes) where the body holds a secret a hash would give away (a PIN)."""
    from kariya.residents import idempotency

    key, digest = idempotency_key(request, fingerprint)
    status, body = idempotency.run(
        request.db, request.clock, person_id, key, digest, action, status=status
    )
    request.response.status = status
    return body
