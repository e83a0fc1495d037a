"""The hand-over (D-2): the records belong to the city and go back to it at the end.

`write_zip` streams one ZIP: every table as CSV (UTF-8 with BOM, the database's column names in
the header), `data_dictionary.csv` (each table and column in Japanese, kariya/data/
data_dictionary.toml, with what was left out and why), `README.txt`, and `MANIFEST.txt` with each
file's SHA-256 in the format `sha256sum -c` reads. Left out: credentials (password hashes, QR
secrets), the residents' LINE identifiers and display names (the data set knows residents by
their `person_ref`), and file contents (binary).

Afterwards, four eyes (workflows/reports.py, ERASURE): the secretariat requests the erasure of
what the programme no longer needs, naming the hand-over it follows; a city approver who is not
the requester approves it; `kariya erasure execute` erases it once (kariya.reports.retention)
and records the proof: what was erased per column, a check query per personal column that finds
nothing, every table's row count, the money records unchanged and the ledger check.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import hashlib
import io
import re
import tomllib
import zipfile
from collections.abc import Callable
from importlib import resources
from zoneinfo import ZoneInfo

from sqlalchemy import LargeBinary, func, select
from sqlalchemy.orm import Session

from kariya.campaign import definition
from kariya.campaign.models import Round
from kariya.clock import JST
from kariya.errors import Conflict, Invalid, NotFound
from kariya.orm import Base
from kariya.reports import sheets
from kariya.reports.models import ErasureRequest, ExportJob
from workflows import reports as reports_wf
from workflows import round as round_wf
from workflows.binding import fire

SKIPPED_TABLES = {
    "material_job_chunk": "掲示物のZIPの断片(作成物の中身)のため含めません。",
    "export_job_chunk": "出力ファイルの断片(作成物の中身)のため含めません。",
}
LEFT_OUT = {
    (
        "person",
        "line_user_id",
    ): "個人を特定できるLINEの識別子のため含めません(利用者は ref で識別します)。",
    ("person", "display_name"): "LINEの表示名(個人情報)のため含めません。",
    ("person", "line_hash"): "退会した方のLINEの識別子から作った値(照合用)のため含めません。",
    ("staff_user", "password_hash"): "認証情報のため含めません。",
    ("staff_user", "totp_secret"): "認証情報(2段階認証の秘密の値)のため含めません。",
    ("staff_recovery_code", "code_hash"): "認証情報のため含めません。",
    ("store", "qr_token"): "QRコードの秘密の値(認証情報)のため含めません。",
    ("store", "till_pin_hash"): "店舗の暗証番号(認証情報)のため含めません。",
}
BINARY = "ファイルの中身(バイナリ)のため含めません。"
DEFUSED = "表計算ソフトが数式と読む値(= + - @ などで始まる文字)には先頭に ' を付けています。"


@functools.cache
def dictionary() -> dict:
    text = resources.files("kariya").joinpath("data/data_dictionary.toml").read_text("utf-8")
    return tomllib.loads(text)


def undescribed() -> list[str]:
    """Tables and columns of the database the data dictionary does not describe."""
    words = dictionary()
    missing = []
    for table in Base.metadata.sorted_tables:
        entry = words.get(table.name)
        if entry is None:
            missing.append(table.name)
            continue
        missing += [
            f"{table.name}.{c.name}" for c in table.columns if c.name not in entry["columns"]
        ]
    return missing


def _tables():
    return sorted(
        (t for t in Base.metadata.sorted_tables if t.name not in SKIPPED_TABLES),
        key=lambda t: t.name,
    )


def _columns(table) -> list:
    return [
        c
        for c in table.columns
        if (table.name, c.name) not in LEFT_OUT and not isinstance(c.type, LargeBinary)
    ]


def _value(value, zone: ZoneInfo):
    if isinstance(value, dt.datetime):
        return value.astimezone(zone).isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bytes):
        return ""
    return value


class _Hashing:
    """A file object in the ZIP that hashes what it is given."""

    def __init__(self, target):
        self._target = target
        self.sha = hashlib.sha256()

    def write(self, data) -> int:
        self.sha.update(data)
        return self._target.write(data)


@dataclasses.dataclass
class Result:
    rows: int
    files: list[tuple[str, str, int]]  # name, sha256, data rows
    manifest: str


def _dictionary_rows() -> list[list]:
    words = dictionary()
    rows = []
    for table in sorted(Base.metadata.sorted_tables, key=lambda t: t.name):
        entry = words.get(table.name, {"title": "", "columns": {}})
        for c in table.columns:
            if table.name in SKIPPED_TABLES:
                note = SKIPPED_TABLES[table.name]
            elif (table.name, c.name) in LEFT_OUT:
                note = LEFT_OUT[(table.name, c.name)]
            elif isinstance(c.type, LargeBinary):
                note = BINARY
            else:
                note = ""
            rows.append(
                [
                    f"tables/{table.name}.csv" if table.name not in SKIPPED_TABLES else "",
                    table.name,
                    entry["title"],
                    c.name,
                    entry["columns"].get(c.name, ""),
                    str(c.type),
                    note,
                ]
            )
    return rows


def write_zip(
    db: Session, clock, out, *, progress: Callable[[int, int], None] | None = None
) -> Result:
    """The whole data set as one ZIP into `out` (a binary file object, seekable or not)."""
    campaign = definition.latest(db)
    zone = ZoneInfo(campaign.timezone) if campaign else JST
    tables = _tables()
    counts = {t.name: db.scalar(select(func.count()).select_from(t)) or 0 for t in tables}
    total, done = sum(counts.values()), 0
    files: list[tuple[str, str, int]] = []
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:

        def add(name: str, columns: list[str], rows) -> int:
            with zf.open(name, "w", force_zip64=True) as raw:
                target = _Hashing(raw)
                table = sheets.CsvStream(target, columns, "utf-8-sig")
                for row in rows:
                    table.row(row)
                    yield_progress(1)
                table.close()
            files.append((name, target.sha.hexdigest(), table.rows))
            return table.rows

        def yield_progress(n: int) -> None:
            nonlocal done
            done += n
            if progress and done % 1000 == 0:
                progress(done, max(total, done))

        for table in tables:
            columns = _columns(table)
            order = list(table.primary_key.columns) or columns[:1]
            statement = select(*columns).order_by(*order).execution_options(yield_per=2000)
            rows = ([_value(v, zone) for v in row] for row in db.execute(statement))
            add(f"tables/{table.name}.csv", [c.name for c in columns], rows)
        add(
            "data_dictionary.csv",
            ["ファイル", "テーブル", "テーブルの説明", "列", "列の説明", "型", "備考"],
            iter(_dictionary_rows()),
        )
        readme = _readme(campaign, clock.now(), zone, counts).encode("utf-8")
        zf.writestr("README.txt", readme)
        files.append(("README.txt", hashlib.sha256(readme).hexdigest(), 0))
        manifest = "".join(f"{sha}  {name}\n" for name, sha, _n in files)
        zf.writestr("MANIFEST.txt", manifest)
    if progress:
        progress(done, done)
    return Result(done, files, manifest)


def _readme(campaign, now: dt.datetime, zone: ZoneInfo, counts: dict[str, int]) -> str:
    lines = [
        f"{campaign.name if campaign else '刈谷市電子割引券'} 引き渡しデータ一式",
        f"作成日時: {now.astimezone(zone):%Y-%m-%d %H:%M} ({zone.key})",
        "",
        "tables/         データベースの表ごとのCSV(UTF-8、BOMつき。1行目は列名)",
        "data_dictionary.csv  表と列の説明(日本語)、含めなかった列とその理由",
        "MANIFEST.txt    各ファイルのSHA-256(sha256sum -c MANIFEST.txt で確かめられます)",
        "",
        "時刻はタイムゾーンつきのISO 8601形式、金額は円の整数です。",
        DEFUSED,
        "利用者は利用者番号(person の ref)で識別します。LINEの識別子・表示名は含めていません。",
        "",
        "表ごとの行数:",
    ]
    lines += [f"  {name}: {n:,}" for name, n in sorted(counts.items())]
    return "\n".join(lines) + "\n"


def verify(data: bytes) -> list[str]:
    """What does not match in a hand-over ZIP: each file against its line in MANIFEST.txt."""
    problems = []
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        listed = {}
        for line in zf.read("MANIFEST.txt").decode("utf-8").splitlines():
            sha, _, name = line.partition("  ")
            listed[name] = sha
        names = set(zf.namelist()) - {"MANIFEST.txt"}
        problems += [f"{n}: not in the manifest" for n in sorted(names - set(listed))]
        problems += [f"{n}: listed but missing" for n in sorted(set(listed) - names)]
        for name in sorted(names & set(listed)):
            if hashlib.sha256(zf.read(name)).hexdigest() != listed[name]:
                problems.append(f"{name}: SHA-256 differs")
    return problems


# --- the erasure after the hand-over ------------------------------------------------------------


def erasures(db: Session) -> list[ErasureRequest]:
    return list(db.scalars(select(ErasureRequest).order_by(ErasureRequest.id.desc())))


def get_erasure(db: Session, request_id: int | str) -> ErasureRequest:
    found = db.get(ErasureRequest, int(request_id)) if str(request_id).isdigit() else None
    if found is None:
        raise NotFound("指定された消去の依頼は見つかりません。")
    return found


def request_erasure(
    db: Session, clock, *, actor: str, handover_sha256: str | None = None
) -> ErasureRequest:
    """The secretariat asks for the erasure: only after the last round has settled and the
    hand-over was made, naming the ZIP by its SHA-256 (by default the latest one built on the
    page; `kariya handover` prints its own), one open request at a time."""
    campaign = definition.latest(db)
    if campaign is None:
        raise Invalid("キャンペーンが登録されていません。")
    open_rounds = db.scalar(
        select(func.count())
        .select_from(Round)
        .where(Round.campaign_id == campaign.id, Round.state != round_wf.S.settled)
    )
    if open_rounds:
        raise Conflict(
            "すべての回の繰越精算が終わってから消去を依頼できます。", code="CAMPAIGN_RUNNING"
        )
    if handover_sha256 is None:
        handover_sha256 = db.scalar(
            select(ExportJob.sha256)
            .where(ExportJob.kind == "handover", ExportJob.state == reports_wf.S.done)
            .order_by(ExportJob.id.desc())
            .limit(1)
        )
        if not handover_sha256:
            raise Conflict("先に引き渡しデータを作成してください。", code="NO_HANDOVER")
    elif not re.fullmatch(r"[0-9a-f]{64}", handover_sha256):
        raise Invalid("引き渡しデータのSHA-256(16進数64桁)を指定してください。")
    pending = db.scalar(
        select(ErasureRequest).where(
            ErasureRequest.state.in_((reports_wf.E.requested, reports_wf.E.approved))
        )
    )
    if pending is not None:
        raise Conflict(f"消去の依頼 No.{pending.id} が処理中です。", code="ERASURE_PENDING")
    row = ErasureRequest(
        handover_sha256=handover_sha256,
        state=reports_wf.E.requested,
        requested_by=actor,
        requested_at=clock.now(),
        decision_reason="",
        proof="",
    )
    db.add(row)
    db.flush()
    return row


def decide(db: Session, clock, row: ErasureRequest, *, approve: bool, actor: str, reason: str = ""):
    """A city approver decides; never the person who asked (four eyes)."""
    if actor == row.requested_by:
        raise Conflict(
            "依頼した人は承認できません。別の担当者が判断してください。", code="SAME_PERSON"
        )
    if not approve and not reason.strip():
        raise Invalid("不承認の理由を入力してください。")
    now = clock.now()
    event = "approve" if approve else "reject"
    fire(db, reports_wf.ERASURE, row, event, actor=actor, now=now, reason=reason)
    row.decided_by, row.decided_at, row.decision_reason = actor, now, reason[:500]
    db.flush()
