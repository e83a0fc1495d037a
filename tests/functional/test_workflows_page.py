"""The secretariat's state diagrams (状態遷移図): one section and one Mermaid file per machine of
workflows.ALL, so a new machine shows up without touching the view."""

import workflows
from tests.helpers import login_staff, make_user
from workflows.binding import label, mermaid


def test_every_machine_is_drawn_with_its_japanese_labels(db, testapp):
    make_user(db, "secretariat", "jimukyoku")
    login_staff(testapp, "jimukyoku")
    page = testapp.get("/secretariat/workflows")
    assert "状態遷移図" in page.text
    for machine in workflows.ALL:
        assert f"<h2>{machine.kariya_name}</h2>" in page.text
        assert all(label(machine, state) in page.text for state in machine.states)
        diagram = testapp.get(f"/secretariat/workflows/{machine.kariya_name}.mmd")
        assert diagram.content_type == "text/plain"
        assert diagram.text == mermaid(machine)
    testapp.get("/secretariat/workflows/nothing.mmd", status=404)
