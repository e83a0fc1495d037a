"""The one application factory: what it wires, and what it leaves out where it is not asked for."""

import json
import os
import subprocess
import sys
from pathlib import Path

from kariya import settings as kariya_settings
from tasks import SCHEDULE_KEY

ROOT = Path(__file__).resolve().parents[2]

# Builds the WSGI app with the given settings in a fresh interpreter and reports which of the
# development stand-ins were imported and the beat schedule the task modules declared.
PROBE = """
import json, sys, warnings
warnings.simplefilter("ignore")
from kariya import make_config
from tasks import celery_app
app = make_config(json.loads(sys.argv[1])).make_wsgi_app()
print(json.dumps({
    "dev": sorted(m for m in sys.modules if m.startswith(("kariya.dev", "views.dev"))),
    "beat": celery_app.conf.beat_schedule,
}))
"""

PRODUCTION_LIKE = {
    "sqlalchemy.url": "sqlite://",
    "kariya.session_secret": "test-session-secret-not-for-production",
    "kariya.clock": "system",
    "kariya.line.simulator": "false",
}


def probe(settings: dict, code: str = PROBE) -> dict:
    """Run `code` with the settings (JSON, argv[1]) in a fresh interpreter; its last line."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KARIYA_")}
    env["PYTHONPATH"] = str(ROOT)
    done = subprocess.run(
        [sys.executable, "-c", code, json.dumps(settings)],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_production_like_settings_never_import_the_stand_ins_and_tasks_declare_the_beat():
    seen = probe(PRODUCTION_LIKE)
    assert seen["dev"] == []
    assert seen["beat"] == {
        "tick": {"task": "kariya.tick", "schedule": 10.0},
        "payouts": {"task": "kariya.payouts.build", "schedule": 3600.0},
        "mail": {"task": "kariya.mail.send", "schedule": 60.0},
        "dashboard": {"task": "kariya.reports.refresh_dashboard", "schedule": 60.0},
        "status_reports": {"task": "kariya.reports.weekly", "schedule": 60.0},
        # The call centre's reminders and auto-close (issue 12, Q-2).
        "callcenter": {"task": "kariya.callcenter.remind", "schedule": 60.0},
        # The fraud watch's scan (issue 15), every kariya.fraud.scan_seconds.
        "fraud_scan": {"task": "kariya.fraud.scan", "schedule": 600.0},
    }


def test_each_development_setting_turns_the_stand_ins_on():
    assert not kariya_settings.dev_stand_ins(PRODUCTION_LIKE)
    for setting in (
        {"kariya.clock": "settable"},
        {"kariya.line.simulator": "true"},
        {"kariya.mail_sink.port": "8025"},
    ):
        assert kariya_settings.dev_stand_ins({**PRODUCTION_LIKE, **setting}), setting


def test_the_suites_app_has_the_same_schedule_in_its_registry(registry):
    assert set(registry[SCHEDULE_KEY]) == {
        "tick",
        "payouts",
        "mail",
        "dashboard",
        "status_reports",
        "callcenter",
        "fraud_scan",
    }


# The paste factory (pserve, gunicorn) in a fresh interpreter: how many objects it left frozen.
FREEZE_PROBE = """
import gc, json, sys, warnings
warnings.simplefilter("ignore")
from kariya import main
main({}, **json.loads(sys.argv[1]))
print(json.dumps({"frozen": gc.get_freeze_count(), "tracked": len(gc.get_objects())}))
"""


def test_the_served_app_is_out_of_the_garbage_collectors_reach():
    """Issue 16 (I-9): what the app holds once built lives as long as the process, so a full
    collection under the rush should not walk it (it stopped a worker for up to 176 ms)."""
    seen = probe(PRODUCTION_LIKE, FREEZE_PROBE)
    assert seen["frozen"] > 100_000
    assert seen["tracked"] < seen["frozen"] // 10  # what a collection still walks
