"""Every input checked at the edge (issue 14, defect 7; I-10), before any view or the database
sees it.

- One tween (under the exception view, so a refusal is rendered like any error: JSON
  {"error": "INVALID", "message": ...} under /api, a Japanese page elsewhere, status 422)
  refuses, in the path, the query string and form fields (names and values, and uploaded
  files' names): bytes that are not UTF-8, NUL and the other control characters (a form keeps
  its tabs and line breaks), and lone surrogates. PostgreSQL refuses NUL and cannot store a
  lone surrogate, so these used to answer 500.
- The same tween parses a JSON body once (up to MAX_JSON bytes, the most any view takes), with
  a depth limit (MAX_DEPTH; 5,000 levels used to raise RecursionError), and refuses a NUL or a
  lone surrogate in any key or string (what PostgreSQL can never store). A body that is not
  JSON is left to the view, which answers MALFORMED (views/api/support.json_body) only if it
  reads one; the parse is kept for it.
- Typed fields for the JSON views (`fields()`): an integer is an int within the database's
  range, never a float or a boolean; a string is a str without control characters; a boolean
  is true or false; a field that is missing takes its default, so the domain's own checks (and
  codes) stay as they were. Members no view reads are ignored.
- A value the database refuses all the same (a number beyond its range in a path) answers 422,
  never 500 (`refused_by_the_database`, logged).
- A wrong method on a known route answers 405 with an Allow header (the exception view for
  PredicateMismatch below), not 404.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
from collections.abc import Callable
from typing import Any

from pyramid.exceptions import PredicateMismatch
from pyramid.tweens import EXCVIEW, MAIN
from pyramid.view import exception_view_config
from sqlalchemy.exc import DataError

from kariya.errors import DomainError, Invalid
from views.errors import error_response, not_found

log = logging.getLogger(__name__)

# The most bytes of JSON any view accepts (the documents' text, views/api/documents.py).
MAX_JSON = 4 * 1024 * 1024
MAX_DEPTH = 20
JSON_KEY = "kariya.inputs.json"  # where the tween keeps the parsed body (environ)
_MALFORMED = object()

# NUL and the other C0 controls but tab, LF and CR; DEL and the C1 controls; lone surrogates.
FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
# What no string can hold anywhere in a JSON body, read or not: PostgreSQL refuses NUL and
# cannot encode a lone surrogate. (The fields a view reads are held to FORBIDDEN: `text()`.)
NEVER = re.compile("[\x00\ud800-\udfff]")
# In a path nothing of the kind, not even a tab or a line break.
FORBIDDEN_IN_PATH = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")

NOT_UTF8 = "送信された内容の文字コードが正しくありません(UTF-8 で送ってください)。"
TOO_DEEP = f"JSON の入れ子が深すぎます({MAX_DEPTH}段まで)。"


def _named(name: Any) -> str:
    """A field's name for a message, if it is a plain one (never echo garbage)."""
    if isinstance(name, str) and 0 < len(name) <= 40 and not FORBIDDEN_IN_PATH.search(name):
        return f"「{name}」"
    return "送信された項目"


def bad_characters(where: str) -> Invalid:
    return Invalid(
        f"{where}に使えない文字(NUL などの制御文字、不正な文字)が含まれています。",
        details={"input": "使えない文字が含まれています。"},
    )


def clean(text: str, where: str, pattern: re.Pattern = FORBIDDEN) -> str:
    if pattern.search(text):
        raise bad_characters(where)
    return text


# -- the tween --------------------------------------------------------------------------------


def _check_path(environ: dict) -> None:
    raw = environ.get("PATH_INFO", "")
    try:
        path = raw.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        # What the error page reads of the path must decode: keep it readable, then refuse.
        environ["PATH_INFO"] = (
            raw.encode("latin-1", "replace").decode("utf-8", "replace").encode().decode("latin-1")
        )
        raise Invalid(NOT_UTF8) from None
    clean(path, "URL ", FORBIDDEN_IN_PATH)


def _check_pairs(pairs, what: str) -> None:
    for name, value in pairs:
        clean(name, what)
        if isinstance(value, str):
            clean(value, f"{_named(name)}")
        else:  # an uploaded file: its name is stored and shown
            filename = getattr(value, "filename", None)
            if isinstance(filename, str):
                clean(filename, f"{_named(name)}のファイル名")


def _check_query(request) -> None:
    try:
        pairs = list(request.GET.items())
    except UnicodeDecodeError:
        request.environ["QUERY_STRING"] = ""
        raise Invalid(NOT_UTF8) from None
    try:
        _check_pairs(pairs, "URL のパラメーター名")
    except Invalid:
        request.environ["QUERY_STRING"] = ""
        raise


def _check_form(request) -> None:
    if request.method not in ("POST", "PUT", "PATCH", "DELETE"):
        return
    if request.content_type not in FORM_TYPES:
        return
    try:
        pairs = list(request.POST.items())
    except UnicodeDecodeError:
        raise Invalid(NOT_UTF8) from None
    except ValueError:  # a multipart body without its boundary, say
        raise Invalid("フォームの形式が正しくありません。", code="MALFORMED") from None
    _check_pairs(pairs, "フォームの項目名")


def is_json(content_type: str) -> bool:
    return content_type == "application/json" or content_type.endswith("+json")


def _refuse_constant(name: str):
    raise ValueError(name)  # NaN and Infinity are not JSON


def parse_json(raw: bytes) -> Any:
    """The JSON value of `raw`, or _MALFORMED; raises Invalid for what is JSON but not input
    we take (too deep; NUL, controls or lone surrogates in a string or key)."""
    try:
        value = json.loads(raw.decode("utf-8"), parse_constant=_refuse_constant)
    except RecursionError:
        raise Invalid(TOO_DEEP) from None
    except (ValueError, UnicodeDecodeError):
        return _MALFORMED
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            clean(item, "JSON の文字列", NEVER)
        elif isinstance(item, dict | list):
            if depth > MAX_DEPTH:
                raise Invalid(TOO_DEEP)
            if isinstance(item, dict):
                for key, member in item.items():
                    clean(key, "JSON の項目名", NEVER)
                    stack.append((member, depth + 1))
            else:
                stack.extend((member, depth + 1) for member in item)
    return value


def _check_json(request) -> None:
    if not request.content_type or not is_json(request.content_type):
        return
    if (request.content_length or 0) > MAX_JSON:
        return  # every view refuses it as too large (413) before reading it
    raw = request.body
    if len(raw) <= MAX_JSON and raw.strip():
        request.environ[JSON_KEY] = parse_json(raw)


def parsed_json(request) -> Any:
    """The request's JSON body as the tween parsed it (or parsed now); raises MALFORMED."""
    if JSON_KEY not in request.environ:
        request.environ[JSON_KEY] = parse_json(request.body)
    value = request.environ[JSON_KEY]
    if value is _MALFORMED:
        raise Invalid("JSON の形式が正しくありません。", code="MALFORMED")
    return value


def inputs_tween_factory(handler, registry):
    def inputs_tween(request):
        _check_path(request.environ)
        _check_query(request)
        _check_form(request)
        _check_json(request)
        return handler(request)

    return inputs_tween


# -- typed JSON fields ------------------------------------------------------------------------

INT_MIN, INT_MAX = -(2**31), 2**31 - 1  # PostgreSQL's integer


@dataclasses.dataclass(frozen=True)
class Field:
    """One JSON field: `accepts` says whether a value has its type, `expected` says so in
    Japanese; a missing field takes `default`."""

    accepts: Callable[[Any], bool]
    expected: str
    default: Any = None
    nullable: bool = False
    minimum: int | None = None
    maximum: int | None = None
    code: str = Invalid.code  # a domain's own code for the field, where it has one

    def read(self, name: str, body: dict) -> Any:
        if name not in body:
            return self.default
        value = body[name]
        if value is None and self.nullable:
            return None
        if not self.accepts(value):
            message = f"{name} は{self.expected}で送ってください。"
            raise Invalid(message, code=self.code, details={name: message})
        if isinstance(value, str) and FORBIDDEN.search(value):
            message = f"{name} に使えない文字(制御文字)が含まれています。"
            raise Invalid(message, details={name: message})
        if isinstance(value, int) and not isinstance(value, bool):
            low = INT_MIN if self.minimum is None else self.minimum
            high = INT_MAX if self.maximum is None else self.maximum
            if not low <= value <= high:
                message = f"{name} は{low}から{high}までの整数で送ってください。"
                raise Invalid(message, code=self.code, details={name: message})
        return value


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def text(default: Any = "", *, nullable: bool = False) -> Field:
    return Field(lambda v: isinstance(v, str), "文字列", default, nullable)


def integer(
    default: Any = None,
    *,
    nullable: bool = False,
    minimum: int | None = None,
    maximum: int | None = None,
    code: str = Invalid.code,
) -> Field:
    return Field(_is_int, "整数(小数点・真偽値は不可)", default, nullable, minimum, maximum, code)


def as_sent(default: Any = None) -> Field:
    """A field the domain types itself (a bill as people type it: kariya.redemptions.uses)."""
    return Field(lambda v: True, "", default, nullable=True)


def boolean(default: Any = False) -> Field:
    return Field(lambda v: isinstance(v, bool), "true か false", default)


def fields(values: dict, /, **spec: Field) -> dict[str, Any]:
    """The fields of a JSON object, each of its type (422 INVALID naming the first that is
    not). Fields not named in `spec` are ignored."""
    return {name: field.read(name, values) for name, field in spec.items()}


# -- query parameters -------------------------------------------------------------------------


def query_int(request, name: str, default: int, *, minimum: int = 1, maximum: int = INT_MAX):
    """A whole number from the query string (`page=2`), within its bounds; 422 otherwise."""
    raw = request.GET.get(name)
    if raw is None:
        return default
    value = raw.strip()
    if not re.fullmatch(r"[0-9]{1,10}", value) or not minimum <= int(value) <= maximum:
        raise Invalid(
            f"{name} は{minimum}以上の整数で指定してください。",
            details={name: "整数で指定してください。"},
        )
    return int(value)


def query_bool(request, name: str) -> bool | None:
    """`true` or `false` from the query string (as OpenAPI writes a boolean); absent: None;
    anything else, empty too: 422."""
    raw = request.GET.get(name)
    if raw is None:
        return None
    if raw.strip().lower() in ("true", "false"):
        return raw.strip().lower() == "true"
    raise Invalid(f"{name} は true か false で指定してください。", details={name: "true か false"})


# -- methods ----------------------------------------------------------------------------------


class MethodNotAllowed(DomainError):
    code = "METHOD_NOT_ALLOWED"
    status = 405
    message = "この操作はこの方法(HTTP メソッド)では行えません。"


_ALLOWED_KEY = "kariya.inputs.allowed_methods"


def allowed_methods(registry, route_name: str) -> frozenset[str] | None:
    """The methods some view of the route answers (None: any method, or no view)."""
    table = registry.get(_ALLOWED_KEY)
    if table is None:
        table = {}
        for item in registry.introspector.get_category("views") or ():
            view = item["introspectable"]
            route = view["route_name"]
            if route is None or view["context"] is not None and view.get("exception_only"):
                continue
            methods = view["request_methods"]
            if methods is None:
                table[route] = None
            elif route not in table or table[route] is not None:
                if isinstance(methods, str):
                    methods = (methods,)
                extra = {"HEAD"} if "GET" in methods else set()
                table[route] = frozenset(table.get(route) or ()) | set(methods) | extra
        registry[_ALLOWED_KEY] = table
    return table.get(route_name)


@exception_view_config(PredicateMismatch)
def wrong_method(exc, request):
    route = request.matched_route
    allowed = allowed_methods(request.registry, route.name) if route is not None else None
    if not allowed or request.method in allowed:
        return not_found(request)  # another predicate did not match: not here
    response = error_response(
        request,
        405,
        MethodNotAllowed.code,
        f"この操作はこの方法(HTTP メソッド {request.method[:10]})では行えません。"
        f"使えるのは {', '.join(sorted(allowed))} です。",
        "この方法では利用できません",
    )
    response.headers["Allow"] = ", ".join(sorted(allowed))
    return response


@exception_view_config(DataError)
def refused_by_the_database(exc, request):
    """The backstop: a value the database refuses (a number out of its range in a path, say)
    is the client's input, not our failure: 422, logged so that a gap here is seen."""
    log.warning("input refused by the database", exc_info=exc)
    return error_response(
        request,
        422,
        Invalid.code,
        "入力された値を処理できませんでした。値の範囲や文字を確認してください。",
        "入力内容に誤りがあります",
    )


def includeme(config):
    # Under the exception view (a refusal renders as every error does) and above the router.
    config.add_tween("views.inputs.inputs_tween_factory", under=EXCVIEW, over=MAIN)
