"""The printed materials' words, in templates under templates/print/ (Jinja2), rendered with the
campaign's rules: the manual as Markdown (laid out by kariya.materials.flowables), the sticker's
and the posters' lines as TOML (laid out by kariya.materials.pieces).

Every value put into a template is escaped for the template's format (Markdown or a TOML string),
so a campaign name or a telephone number is printed as written and never read as markup.
"""

from __future__ import annotations

import functools
import json
import re
import tomllib

import jinja2

from kariya.campaign.rules import yen
from kariya.settings import PROJECT_ROOT

PRINT_TEMPLATES = PROJECT_ROOT / "templates" / "print"

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]<>()#+\-.!|~])")


def markdown_escape(value) -> str:
    return _MARKDOWN_SPECIAL.sub(r"\\\1", str(value))


def toml_escape(value) -> str:
    """The inside of a TOML basic string (JSON's escapes are TOML's)."""
    return json.dumps(str(value), ensure_ascii=False)[1:-1]


@functools.cache
def _environment(finalize) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(PRINT_TEMPLATES),
        autoescape=False,  # not HTML: `finalize` escapes for the template's own format
        finalize=finalize,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )
    env.globals["yen"] = yen
    return env


def markdown(name: str, **values) -> str:
    """A Markdown template under templates/print/, rendered."""
    return _environment(markdown_escape).get_template(name).render(**values)


def toml(name: str, **values) -> dict:
    """A TOML template under templates/print/, rendered and read."""
    return tomllib.loads(_environment(toml_escape).get_template(name).render(**values))
