"""A version of a document the city approves before use (C-4, Q-3; DESIGN.md section 3): the
secretariat writes a draft and submits it; a city approver approves it or asks for changes with
a reason (the version goes back to draft); the secretariat publishes an approved version, which
supersedes the version published before. Nobody approves a version they wrote or submitted
(kariya.documents.versions checks the accounts); a published version is never edited."""

from workflows.binding import define, state_names

STATES = ["draft", "submitted", "approved", "changes_requested", "published", "superseded"]

TRANSITIONS = [
    {"trigger": "submit", "source": "draft", "dest": "submitted"},
    {"trigger": "approve", "source": "submitted", "dest": "approved"},
    {"trigger": "request_changes", "source": "submitted", "dest": "changes_requested"},
    {"trigger": "redraft", "source": "changes_requested", "dest": "draft"},
    {"trigger": "publish", "source": "approved", "dest": "published"},
    {"trigger": "supersede", "source": "published", "dest": "superseded"},
]

LABELS = {
    "draft": "作成中",
    "submitted": "承認待ち",
    "approved": "承認済み(公開前)",
    "changes_requested": "修正依頼",
    "published": "公開中",
    "superseded": "旧版",
    "event:submit": "承認申請",
    "event:approve": "承認",
    "event:request_changes": "修正依頼",
    "event:redraft": "修正の再開",
    "event:publish": "公開",
    "event:supersede": "新しい版の公開による置き換え",
}

# A version not yet published nor replaced: at most one per document (a partial unique index).
UNPUBLISHED = ("draft", "submitted", "approved", "changes_requested")

MACHINE = define("document", STATES, TRANSITIONS, "draft", LABELS)
S = state_names(MACHINE)
