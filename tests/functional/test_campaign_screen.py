"""The secretariat edits the campaign before it starts (issue 3 item 1; P-2..P-4)."""

import pytest
from sqlalchemy import select

from kariya.models import Campaign, Round
from tests.helpers import campaign_toml, csrf_from, load_campaign, login_staff, make_user


@pytest.fixture
def secretariat(testapp, db, set_now):
    make_user(db, "secretariat")
    set_now("2024-01-01T09:00:00+09:00")
    return login_staff(testapp, "secretariat").follow()


def post(testapp, text, status):
    page = testapp.get("/secretariat/campaign")
    return testapp.post(
        "/secretariat/campaign",
        {"campaign_file": text, "csrf_token": csrf_from(page.text)},
        status=status,
    )


def test_secretariat_creates_and_then_edits_the_campaign_before_it_starts(testapp, secretariat, db):
    post(testapp, campaign_toml(total=12_000_000), 302)
    page = testapp.get("/secretariat/campaign")
    assert "total_funds = 12000000" in page.text and "planned = 2000000" in page.text
    post(testapp, campaign_toml(total=24_000_000, rounds=4), 302)
    db.expire_all()
    campaign = db.scalar(select(Campaign))
    assert campaign.total_funds == 24_000_000
    assert [r.planned for r in campaign.rounds] == [6_000_000] * 4
    from kariya.audit import ledger_check

    report = ledger_check.check(db, campaign)
    assert report.ok, report.text()
    assert report.figures["unissued"] == 24_000_000


def test_invalid_campaign_is_explained_and_nothing_is_written(testapp, secretariat, db):
    # Round 1 ends a day before round 2 starts, 3,000 is not a whole pack, and the sum exceeds T.
    bad = campaign_toml(total=4_000, rounds=2, planned=[3_000, 2_000]).replace(
        "ends = 2024-01-22T00:00:00+09:00", "ends = 2024-01-21T00:00:00+09:00", 1
    )
    response = post(testapp, bad, 422)
    assert "キャンペーン設定に誤りがあります" in response.text
    assert "倍数ではありません" in response.text
    assert "連続させてください" in response.text
    assert "超えています" in response.text
    assert "何も保存していません" in response.text
    assert db.scalar(select(Campaign.id)) is None


def test_started_campaign_cannot_be_changed(testapp, secretariat, db, set_now):
    load_campaign(db, total=12_000_000)
    set_now("2024-01-16T09:00:00+09:00")
    assert "開始済みのため変更できません" in testapp.get("/secretariat/campaign").text
    response = post(testapp, campaign_toml(total=99_000_000), 409)
    assert "開始済み" in response.text
    db.expire_all()
    assert db.scalar(select(Campaign.total_funds)) == 12_000_000
    assert len(db.scalars(select(Round)).all()) == 6


def test_only_the_secretariat_edits_the_campaign(testapp, db):
    make_user(db, "city")
    page = login_staff(testapp, "city").follow()
    testapp.post(
        "/secretariat/campaign",
        {"campaign_file": campaign_toml(), "csrf_token": csrf_from(page.text)},
        status=403,
    )
    assert db.scalar(select(Campaign.id)) is None
