"""Each role sees the controls it may use (AppTest, real SQLite): a viewer reads without a start or review button,
an annotator reviews but starts no job, imports nothing and changes no project, a lead starts generation and
training. Core refuses the hidden actions anyway (tests/architecture/test_permissions.py); here the pages keep
them off the screen."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from core.front.accounts import add_account, add_project_member
from core.front.actor import Actor
from core.front.data import ColumnMapping, execute_import, plan_import
from core.front.projects import create_project, parse_spec
from core.store import open_store

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "a long enough password"
SUBMIT = "FormSubmitter:sign_in-Sign in"
LOCK = ":material/lock:"


@pytest.fixture
def team(studio_home: Path) -> None:
    store = open_store()
    add_account(Actor.of(store), "olga", "owner", PASSWORD, display_name="Olga Owner")
    olga = Actor(store, "olga", "owner", team=True)
    for name, role in [("lena", "lead"), ("anna", "annotator"), ("victor", "viewer")]:
        add_account(olga, name, role, PASSWORD, display_name=name.title())
    lena = Actor(store, "lena", "lead", team=True)
    project = create_project(
        lena, parse_spec(name="crops", labels=[{"name": "weather"}, {"name": "pests"}], languages=[{"code": "en"}])
    )
    for name in ("lena", "anna"):
        add_project_member(olga, project.id, name)
    frame = pd.DataFrame({"text": ["rain all week", "aphids on the beans"], "label": ["weather", "pests"]})
    mapping = ColumnMapping("text", "label", language="en", origin="synthetic", status="pending")
    execute_import(lena, project, plan_import(lena, project, frame, mapping, "rows"))


def _signed_in(username: str) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.run()
    at.text_input[0].input(username)
    at.text_input[1].input(PASSWORD)
    at.button(key=SUBMIT).click().run()
    assert not at.exception, at.exception
    return at


def _on(at: AppTest, page: str) -> AppTest:
    at.switch_page(f"pages/{page}.py").run()
    assert not at.exception, at.exception
    return at


def _buttons(at: AppTest) -> set[str]:
    return {b.label for b in at.button}


def _locks(at: AppTest) -> list[str]:
    return [c.value.replace("\\", "") for c in at.caption if c.value.startswith(LOCK)]  # as shown: unescaped


def test_a_viewer_reads_without_start_or_review_buttons(team: None) -> None:
    at = _signed_in("victor")
    assert "Start training" not in _buttons(_on(at, "train"))
    assert any(
        "starting a training run needs the role lead or owner; victor is a viewer" in c.lower() for c in _locks(at)
    )
    assert "Start generating" not in _buttons(_on(at, "generate"))
    curate = _on(at, "curate")
    assert "Check samples" not in _buttons(curate)
    assert not {"Accept", "Reject"} & _buttons(curate)
    assert any("reviewing a sample needs the role" in c.lower() for c in _locks(curate))
    assert [t.label for t in _on(at, "data").tabs] == ["Browse", "Export"]


def test_an_annotator_reviews_but_starts_nothing(team: None) -> None:
    at = _signed_in("anna")
    curate = _on(at, "curate")
    assert "Check samples" not in _buttons(curate)
    assert {"Accept", "Reject"} <= {label.split(" ")[0] for label in _buttons(curate)}
    assert [t.label for t in _on(at, "data").tabs] == ["Browse", "Export"]
    assert "Start training" not in _buttons(_on(at, "train"))
    projects = _on(at, "projects")
    assert not [f for f in projects.get("form") if "edit_project" in str(getattr(f, "id", ""))]
    assert any("changing a project's settings needs the role" in c.lower() for c in _locks(projects))


def test_a_lead_starts_generation_and_training(team: None) -> None:
    at = _signed_in("lena")
    assert "Start generating" in _buttons(_on(at, "generate"))
    assert "Start training" in _buttons(_on(at, "train"))
    assert "Check samples" in _buttons(_on(at, "curate"))
    assert [t.label for t in _on(at, "data").tabs] == ["Browse", "Import", "Export"]
