"""The kinds of document (DESIGN.md section 5.2): what each is for, who may read its published
version, and the text the project ships as its version 1 (kariya/documents/texts/)."""

from __future__ import annotations

import dataclasses

from kariya.errors import NotFound


@dataclasses.dataclass(frozen=True)
class Kind:
    code: str
    title: str
    purpose: str
    public: bool = False  # anyone may read the published version (else staff only)

    @property
    def text_file(self) -> str:
        return f"texts/{self.code}.md"


STORE_MANUAL = "store_manual"
CALLCENTER_MANUAL = "callcenter_manual"
TERMS = "terms"

KINDS: dict[str, Kind] = {
    STORE_MANUAL: Kind(
        STORE_MANUAL,
        "取扱店マニュアル",
        "登録店が守る取扱いの手引き(S-3)。各店舗の掲示物セットのPDFになります。",
    ),
    CALLCENTER_MANUAL: Kind(
        CALLCENTER_MANUAL,
        "コールセンター応対マニュアル",
        "コールセンターが従う回答の手引き(Q-3)。応対画面の横に表示されます。",
    ),
    TERMS: Kind(
        TERMS,
        "利用規約・プライバシーポリシー",
        "市民が最初の利用時に同意する規約と個人情報の取扱い(I-1, D-1)。",
        public=True,
    ),
}


def get(code: str) -> Kind:
    kind = KINDS.get(code)
    if kind is None:
        raise NotFound("その種類の文書はありません。", code="NOT_FOUND")
    return kind
