"""Structured (JSON) logs with the request id on every line."""

from __future__ import annotations

import contextvars
import json
import logging
import uuid

from pyramid.tweens import INGRESS

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")

_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "request_id"}
_base_factory = logging.getLogRecordFactory()


def _record_factory(*args, **kwargs) -> logging.LogRecord:
    """Stamp every record with the request id at the moment it is made."""
    record = _base_factory(*args, **kwargs)
    record.request_id = request_id_var.get()
    return record


logging.setLogRecordFactory(_record_factory)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "request_id": getattr(record, "request_id", "-"),
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def request_id_tween_factory(handler, registry):
    def request_id_tween(request):
        rid = request.headers.get("X-Request-ID") or uuid.uuid4().hex
        rid = rid[:64]
        token = request_id_var.set(rid)
        request.request_id = rid
        try:
            response = handler(request)
            response.headers["X-Request-ID"] = rid
            return response
        finally:
            request_id_var.reset(token)

    return request_id_tween


def includeme(config):
    config.add_tween("kariya.logs.request_id_tween_factory", under=INGRESS)
