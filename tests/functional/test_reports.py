"""Status reports and the final report (C-3; DESIGN §5.3 `kariya report weekly|final`): the
workbook opens in openpyxl and the PDF in a PDF reader, both with the figures in them; after a
round settles the beat builds its report once and tells the city's contacts through the outbox."""

import io

import openpyxl
import pypdfium2 as pdfium
import pytest
from sqlalchemy import select

from kariya.models import OutboundMail, StatusReport
from kariya.reports import status
from kariya.settings import settings_of
from tests.conftest import BASE_SETTINGS
from tests.functional.test_dashboard import at, campaign, run_campaign  # noqa: F401 (a fixture)
from tests.helpers import login_staff, make_user, run_cli, write_cli_ini


def pdf_text(data: bytes) -> str:
    pdf = pdfium.PdfDocument(data)
    try:
        return "\n".join(page.get_textpage().get_text_range() for page in pdf)
    finally:
        pdf.close()


def cells(data: bytes) -> list:
    wb = openpyxl.load_workbook(io.BytesIO(data))
    return [c for ws in wb.worksheets for row in ws.iter_rows() for c in row if c.value is not None]


@pytest.fixture
def spent(db, campaign):  # noqa: F811
    run_campaign(db, campaign)
    return campaign


def test_weekly_report_by_the_cli_as_xlsx_and_pdf(tmp_path, db, spent, set_now):
    ini = write_cli_ini(tmp_path)
    set_now(at(24, 12).now())
    xlsx, pdf = tmp_path / "r1.xlsx", tmp_path / "r1.pdf"
    for out in (xlsx, pdf):
        result = run_cli(ini, "report", "weekly", "--round", "1", "--out", str(out))
        assert result.returncode == 0, result.stderr
        assert "第1回 状況報告" in result.stdout
    found = cells(xlsx.read_bytes())
    values = [c.value for c in found]
    assert "テストキャンペーン 第1回 状況報告" in values
    row = lambda name: next(c.row for c in found if c.value == name)  # noqa: E731
    first = openpyxl.load_workbook(xlsx)["概要"]
    assert first.cell(row("次の回への繰越(円)"), 2).value == 8_000
    assert first.cell(row("期限切れ(未使用、円)"), 2).value == 2_000
    assert first.cell(row("利用額(円)"), 2).value == 2_000
    assert {c.data_type for c in found} <= {"s", "n"}  # never a formula
    assert "店舗別" in openpyxl.load_workbook(xlsx).sheetnames
    text = pdf_text(pdf.read_bytes())
    assert "第1回 状況報告" in text and "8,000" in text and "18,000" in text
    assert "予算の執行状況" in text  # a chart's title, drawn in the PDF
    assert "かりや青果店" in text


def test_final_report_with_every_part(tmp_path, db, spent, set_now):
    ini = write_cli_ini(tmp_path)
    set_now(at(29, 1).now())
    assert run_cli(ini, "tick").returncode == 0  # round 2 closes: the remainder is returned
    out = tmp_path / "final.pdf"
    result = run_cli(ini, "report", "final", "--out", str(out))
    assert result.returncode == 0, result.stderr
    text = pdf_text(out.read_bytes())
    for words in (
        "実施結果報告",
        "登録店への支払",
        "市へ返還",
        "16,500",
        "業種別",
        "コールセンター",
    ):
        assert words in text, words
    result = run_cli(ini, "report", "final", "--out", str(tmp_path / "final.xlsx"))
    assert result.returncode == 0
    values = [c.value for c in cells((tmp_path / "final.xlsx").read_bytes())]
    assert 16_500 in values and 20_000 in values
    bad = run_cli(ini, "report", "final", "--out", str(tmp_path / "final.txt"))
    assert bad.returncode == 2 and ".xlsx" in bad.stderr
    missing = run_cli(ini, "report", "weekly", "--round", "9", "--out", str(tmp_path / "x.pdf"))
    assert missing.returncode == 2 and "第9回" in missing.stderr


def test_each_settled_round_gets_its_report_once_and_the_city_is_told(db, spent):
    settings = settings_of(
        {
            **BASE_SETTINGS,
            "kariya.reports.city_contacts": "kikaku@city.example.jp, zaisei@city.example.jp",
        }
    )
    assert status.due_weekly(db, at(24, 12), settings) == [1]
    assert status.due_weekly(db, at(24, 13), settings) == []  # once
    db.commit()
    report = db.scalar(select(StatusReport))
    assert (report.round_number, report.mailed_to) == (1, 2)
    assert "第1回 状況報告" in pdf_text(report.pdf)
    mails = db.scalars(select(OutboundMail).order_by(OutboundMail.to_addr)).all()
    assert [m.to_addr for m in mails] == ["kikaku@city.example.jp", "zaisei@city.example.jp"]
    assert "第1回 状況報告" in mails[0].subject
    assert "次の回への繰越 8,000円" in mails[0].body and "/city/reports" in mails[0].body
    assert "U0000" not in mails[0].body  # no resident in a mail


def test_the_city_downloads_its_reports(testapp, db, spent, set_now):
    set_now(at(24, 12).now())
    make_user(db, "city")
    login_staff(testapp, "city")
    page = testapp.get("/city/reports")
    assert "第1回" in page.text and "最終報告" in page.text
    weekly = testapp.get("/city/reports/weekly/1.pdf")
    assert weekly.content_type == "application/pdf" and "8,000" in pdf_text(weekly.body)
    final = testapp.get("/city/reports/final.xlsx")
    assert 20_000 in [c.value for c in cells(final.body)]
    make_user(db, "agent")
    login_staff(testapp, "agent")
    testapp.get("/city/reports/final.pdf", status=403)
