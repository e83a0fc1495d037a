"""The `kariya` console script against the test database (DESIGN.md section 5)."""

import json

import pytest
from sqlalchemy import select

from kariya.models import Campaign, Round, StaffUser
from tests.helpers import campaign_toml, run_cli, write_cli_ini


@pytest.fixture
def ini(tmp_path):
    return write_cli_ini(tmp_path)


def run(ini, *args, input=None):
    return run_cli(ini, *args, input=input)


def test_initdb_load_campaign_tick_and_ledger_check(ini, tmp_path, db, set_now):
    assert run(ini, "initdb").returncode == 0  # already at head: a no-op
    toml = tmp_path / "campaign.toml"
    toml.write_text(campaign_toml(total=12_000_000, rounds=6))
    set_now("2024-01-10T09:00:00+09:00")
    loaded = run(ini, "load-campaign", str(toml))
    assert loaded.returncode == 0, loaded.stderr
    assert "6 rounds" in loaded.stdout
    set_now("2024-01-15T00:00:05+09:00")
    tick = run(ini, "tick")
    assert tick.returncode == 0, tick.stderr
    assert json.loads(tick.stdout)["opened"] == ["テストキャンペーン 第1回"]
    assert db.scalar(select(Round.state).where(Round.number == 1)) == "open"
    assert json.loads(run(ini, "tick").stdout)["opened"] == []  # nothing twice
    check = run(ini, "ledger", "check")
    assert check.returncode == 0, check.stdout
    assert "OK" in check.stdout


def test_load_campaign_reports_every_problem_in_japanese(ini, tmp_path, db):
    toml = tmp_path / "bad.toml"
    toml.write_text(campaign_toml(total=1_000, rounds=2, planned=[1500, 2000]))
    result = run(ini, "load-campaign", str(toml))
    assert result.returncode == 2
    assert "倍数ではありません" in result.stderr and "総額" in result.stderr
    assert db.scalar(select(Campaign.id)) is None


def test_create_user_generates_a_password_and_refuses_duplicates(ini, db):
    made = run(ini, "create-user", "--role", "city", "approver1")
    assert made.returncode == 0, made.stderr
    password = made.stdout.split("password: ")[1].strip()
    assert len(password) >= 12
    user = db.scalar(select(StaffUser).where(StaffUser.username == "approver1"))
    assert user.role == "city" and password not in user.password_hash
    again = run(
        ini, "create-user", "--role", "city", "--password", "another-long-password", "approver1"
    )
    assert again.returncode == 2
    assert "すでに使われています" in again.stderr


def test_store_staff_need_a_known_store(ini):
    result = run(
        ini, "create-user", "--role", "store", "--password", "long-enough-password", "shop"
    )
    assert result.returncode == 2
    assert "店舗コード" in result.stderr


def test_demo_loads_once_and_again_changes_nothing(ini, db):
    first = run(ini, "demo")
    assert first.returncode == 0, first.stderr
    assert "secretariat" in first.stdout and "password" in first.stdout
    second = run(ini, "demo")
    assert second.returncode == 0, second.stderr
    rounds = db.scalars(select(Round).order_by(Round.number)).all()
    assert [r.state for r in rounds] == ["open"] + ["scheduled"] * 5
    assert len(db.scalars(select(StaffUser)).all()) == 4
    assert run(ini, "ledger", "check").returncode == 0
