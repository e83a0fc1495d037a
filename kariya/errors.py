"""Errors a person can cause: a stable code, an HTTP status and a Japanese message."""

from __future__ import annotations


class DomainError(Exception):
    code = "ERROR"
    status = 400
    message = "処理できませんでした。"

    def __init__(
        self,
        message: str | None = None,
        *,
        code: str | None = None,
        status: int | None = None,
        details=None,
    ):
        self.message = message or self.message
        self.code = code or self.code
        self.status = status or self.status
        self.details = details
        super().__init__(f"{self.code}: {self.message}")


class Invalid(DomainError):
    code = "INVALID"
    status = 422
    message = "入力内容に誤りがあります。"


class NotFound(DomainError):
    code = "NOT_FOUND"
    status = 404
    message = "見つかりません。"


class Conflict(DomainError):
    code = "CONFLICT"
    status = 409
    message = "現在の状態ではこの操作はできません。"


class Forbidden(DomainError):
    code = "FORBIDDEN"
    status = 403
    message = "この操作を行う権限がありません。"


class IllegalTransition(Conflict):
    code = "BAD_TRANSITION"  # DESIGN 5.2: a transition its machine refuses
