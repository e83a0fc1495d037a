"""What importing a file would do, row by row, and the report the screens and the CLI show."""

from __future__ import annotations

import dataclasses

from kariya.errors import Invalid
from kariya.stores.models import Store


@dataclasses.dataclass(frozen=True)
class CellError:
    row: int
    column: int | None  # 1-based column number in the file, None for the row as a whole
    header: str  # the heading as written in the file
    message: str

    def line(self) -> str:
        where = f"{self.row}行目" + (f" {self.header}" if self.header else "")
        return f"{where}: {self.message}"


@dataclasses.dataclass(frozen=True)
class Change:
    key: str
    label: str
    old: str
    new: str


@dataclasses.dataclass
class RowPlan:
    row: int
    code: str
    name: str
    action: str  # create | update | unchanged | error
    values: dict[str, str]  # create: every field; update: the changed fields
    changes: list[Change]
    errors: list[CellError]
    store: Store | None = None

    ACTION_LABELS = {"create": "新規", "update": "更新", "unchanged": "変更なし", "error": "エラー"}

    @property
    def action_label(self) -> str:
        return self.ACTION_LABELS[self.action]


@dataclasses.dataclass
class Report:
    rows: list[RowPlan]
    ignored: list[str]
    notices: list[str]
    filename: str = ""
    applied: bool = False
    activated: int = 0
    not_activated: list[str] = dataclasses.field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(RowPlan.ACTION_LABELS, 0)
        for row in self.rows:
            counts[row.action] += 1
        return counts

    @property
    def ok(self) -> bool:
        return not any(row.errors for row in self.rows)

    @property
    def errors(self) -> list[CellError]:
        return [e for row in self.rows for e in row.errors]

    def error_lines(self) -> list[str]:
        return [e.line() for e in self.errors]

    def summary(self) -> str:
        c = self.counts
        return (
            f"全{len(self.rows)}行: 新規 {c['create']}件 / 更新 {c['update']}件 / "
            f"変更なし {c['unchanged']}件 / エラー {c['error']}件"
        )

    def activation_summary(self) -> str:
        return f"{self.activated}店舗を利用可能にしました(QRコード発行済み)。"

    def text(self) -> str:
        """The preview as plain text (the CLI)."""
        lines = [
            ("取り込みました" if self.applied else "取り込み内容の確認(まだ登録していません)")
            + f" {self.summary()}"
        ]
        if self.activated:
            lines.append(self.activation_summary())
        lines += self.not_activated
        lines += self.notices
        for row in self.rows:
            if row.action == "create":
                lines.append(f"  新規 {row.row}行目 {row.code} {row.name}")
            elif row.action == "update":
                diff = "、".join(
                    f"{c.label}: {c.old or '(空)'} → {c.new or '(空)'}" for c in row.changes
                )
                lines.append(f"  更新 {row.row}行目 {row.code} {row.name}: {diff}")
        return "\n".join(lines)


def errors_refusal(report: Report) -> Invalid:
    count = len({e.row for e in report.errors})
    return Invalid(
        f"{count}行にエラーがあるため、取り込みませんでした(何も登録・変更していません)。"
        "エラーを直してから、もう一度取り込んでください。",
        code="IMPORT_ERRORS",
        details=report.error_lines(),
    )
