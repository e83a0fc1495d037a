"""The Japanese fonts of every PDF we make (store materials, statements).

A print shop wants the fonts inside the file, so each PDF embeds (a subset of) the IPA fonts from
Debian's packages (fonts-ipafont-gothic, installed by `make test`; fonts-ipafont-mincho if present,
otherwise the Gothic serves for both). Where no such font is installed, the PDFs fall back to the
Japanese CID fonts every PDF reader carries (not embedded), and say so once in the log. Either way
the text stays real, searchable text. Callers use the names GOTHIC and MINCHO after `ensure()`.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfbase.ttfonts import TTFont

log = logging.getLogger(__name__)

GOTHIC = "KariyaGothic"
MINCHO = "KariyaMincho"

_IPA_GOTHIC = (
    "/usr/share/fonts/opentype/ipafont-gothic/ipag.ttf",
    "/usr/share/fonts/truetype/ipafont-gothic/ipag.ttf",
    "/usr/share/fonts/truetype/fonts-japanese-gothic.ttf",
)
_IPA_MINCHO = (
    "/usr/share/fonts/opentype/ipafont-mincho/ipam.ttf",
    "/usr/share/fonts/truetype/ipafont-mincho/ipam.ttf",
    "/usr/share/fonts/truetype/fonts-japanese-mincho.ttf",
)
# Each name: the TrueType files to embed, in order of preference, and the CID font otherwise.
CHOICES = {
    GOTHIC: (_IPA_GOTHIC, "HeiseiKakuGo-W5"),
    MINCHO: (_IPA_MINCHO + _IPA_GOTHIC, "HeiseiMin-W3"),
}

_lock = threading.Lock()
_embedded: dict[str, str] | None = None  # name -> the file embedded ("" for the CID fallback)


def ensure() -> dict[str, str]:
    """Register GOTHIC and MINCHO once per process; returns what each one is."""
    global _embedded
    with _lock:
        if _embedded is None:
            chosen = {}
            for name, (files, cid) in CHOICES.items():
                path = next((p for p in files if Path(p).is_file()), None)
                if path is not None:
                    pdfmetrics.registerFont(TTFont(name, path))
                else:
                    font = UnicodeCIDFont(cid)
                    font.name = font.fontName = name  # our name; the PDF still names the CID font
                    pdfmetrics.registerFont(font)
                    log.warning(
                        "no IPA font installed: PDFs use a reader's built-in font (not embedded)",
                        extra={"font": name, "fallback": cid},
                    )
                chosen[name] = path or ""
            _embedded = chosen
        return _embedded
