"""The demo project: a small multilingual task shipped with the studio, so every page has data offline."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from core.errors import NotFound
from core.io.importer import ColumnMapping, execute_import, plan_import
from core.store import action_log
from core.store.database import Store
from core.store.projects import Project, create_project, get_project, has_projects, parse_spec

DEMO_DIR = Path(__file__).parent / "demo_data"
DEMO_ACTION = "demo.create"


@dataclass(frozen=True)
class DemoRecord:
    text: str
    label: str
    language: str
    split: str
    origin: str
    note: str


def demo_definition() -> dict:
    return json.loads((DEMO_DIR / "demo_project.json").read_text(encoding="utf-8"))


def demo_records() -> list[DemoRecord]:
    lines = (DEMO_DIR / "demo_samples.jsonl").read_text(encoding="utf-8").splitlines()
    return [DemoRecord(**json.loads(line)) for line in lines if line.strip()]


def create_demo_project(store: Store) -> Project:
    """Create the demo project (or return it when it exists already)."""
    definition = demo_definition()
    try:
        return get_project(store, definition["name"])
    except NotFound:
        pass
    spec = parse_spec(
        name=definition["name"],
        task=definition["task"],
        labels=[
            {
                "name": lb["name"],
                "description": lb["description"],
                "names": {code: [name] for code, name in lb.get("names", {}).items()},
            }
            for lb in definition["labels"]
        ],
        languages=[{"code": code} for code in definition["languages"]],
    )
    project = create_project(store, spec)
    import pandas as pd

    frame = pd.DataFrame([r.__dict__ for r in demo_records()], dtype=object)
    mapping = ColumnMapping(text_column="text", label_column="label", language_column="language")
    plan = plan_import(store, project, frame, mapping, source="demo data (written for Distill Studio)")
    execute_import(store, project, plan)
    action_log.log_action(store, action=DEMO_ACTION, project_id=project.id, target=f"project:{project.id}")
    return project


def ensure_demo_on_first_start(store: Store) -> Project | None:
    """On a brand-new store (no project ever created) make the demo; a deleted demo does not come back."""
    if has_projects(store) or action_log.was_logged(store, DEMO_ACTION):
        return None
    return create_demo_project(store)
