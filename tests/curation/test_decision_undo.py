"""Undoing one review decision in the core: the state before it comes back, the undo is logged, and a sample
changed since by anyone is left as it is (SQLite and PostgreSQL)."""

from __future__ import annotations

import pandas as pd
import pytest

from core.curation.sample_actions import bulk_change, change_sample, decide, undo_decision
from core.errors import EditConflict, InvalidInput
from core.io.importer import ColumnMapping, execute_import, plan_import
from core.store import Store
from core.store.action_log import list_actions
from core.store.projects import Project, create_project, parse_spec
from core.store.samples import get_sample, page_samples
from core.store.schema import FlagRow


def _project(store: Store, rows: list[tuple[str, str | None]]) -> Project:
    project = create_project(
        store, parse_spec(name="undo", labels=[{"name": "weather"}, {"name": "prices"}], languages=[{"code": "sw"}])
    )
    frame = pd.DataFrame(rows, columns=["text", "label"], dtype=object)
    mapping = ColumnMapping("text", "label", language="sw", origin="synthetic")
    execute_import(store, project, plan_import(store, project, frame, mapping, "undo.csv"))
    return project


def _ids(store: Store, project: Project) -> list[int]:
    return [s.id for s in page_samples(store, project.id).samples]


def test_a_relabel_and_a_label_are_undone_and_the_undo_is_logged(store: Store) -> None:
    project = _project(store, [("Mvua kesho?", "weather"), ("Bei ya mahindi", None)])
    labelled, unlabeled = _ids(store, project)
    relabel = decide(store, labelled, "relabel", version=1, label="prices")
    label = decide(store, unlabeled, "label", version=1, label="prices")
    assert relabel.action_id is not None and label.action_id is not None
    assert (label.sample.label, label.sample.status) == ("prices", "accepted")

    undone = undo_decision(store, relabel.action_id)
    assert (undone.sample.label, undone.sample.status, undone.sample.version) == ("weather", "pending", 3)
    assert undone.message == f"Undone: your new label of sample #{labelled}; it is 'pending', label 'weather' again."
    back = undo_decision(store, label.action_id).sample
    assert (back.label, back.status) == (None, "unlabeled")

    entry = next(a for a in list_actions(store, project.id) if a.target == f"sample:{labelled}")
    assert (entry.action, entry.who, entry.before["label"], entry.after["label"]) == (
        "undo relabel",
        "tester",
        "prices",
        "weather",
    )
    assert entry.after["undoes"] == relabel.action_id
    with pytest.raises(InvalidInput, match="was undone already"):
        undo_decision(store, relabel.action_id)


def test_an_edit_is_undone_text_included(store: Store) -> None:
    project = _project(store, [("Mvua kesho?", "weather")])
    [sample_id] = _ids(store, project)
    edit = decide(store, sample_id, "edit", version=1, text="Mvua kesho asubuhi?")
    undone = undo_decision(store, edit.action_id)
    assert undone.sample.text == "Mvua kesho?" and undone.sample.status == "pending"
    assert undone.message == f"Undone: your text edit of sample #{sample_id}; its old text is back."


def test_nothing_changed_means_nothing_to_undo(store: Store) -> None:
    project = _project(store, [("Mvua kesho?", "weather")])
    [sample_id] = _ids(store, project)
    change_sample(store, sample_id, "reject", version=1)
    assert decide(store, sample_id, "reject", version=2).action_id is None  # it was rejected already


def test_a_sample_changed_since_is_not_undone(store: Store) -> None:
    project = _project(store, [("Mvua kesho?", "weather"), ("Jua kali", "weather")])
    first, second = _ids(store, project)
    mine = decide(store, first, "reject", version=1)
    bob = Store(store.url, "bob")
    try:
        change_sample(bob, first, "relabel", version=2, label="prices")
        with pytest.raises(EditConflict, match=f"Sample #{first} was changed by bob .* Your decision was not undone"):
            undo_decision(store, mine.action_id)
        after = get_sample(store, first)
        assert (after.label, after.status, after.updated_by) == ("prices", "accepted", "bob")
        # a bulk action since is a change too
        other = decide(store, second, "accept", version=1)
        bulk_change(store, project.id, "reject", ids=[second])
        with pytest.raises(EditConflict):
            undo_decision(store, other.action_id)
        # and only the person who decided can undo it
        bobs = decide(bob, second, "reset", version=get_sample(store, second).version)
        with pytest.raises(InvalidInput, match="made by bob"):
            undo_decision(store, bobs.action_id)
    finally:
        bob.dispose()


def test_a_bulk_change_is_not_a_single_decision(store: Store) -> None:
    project = _project(store, [("Mvua kesho?", "weather")])
    [sample_id] = _ids(store, project)
    bulk_change(store, project.id, "accept", ids=[sample_id])
    [entry] = [a for a in list_actions(store, project.id) if a.action == "bulk accept"]
    with pytest.raises(InvalidInput, match="no decision"):
        undo_decision(store, entry.id)


def test_undoing_an_edit_drops_the_flags_of_the_edited_text(store: Store) -> None:
    project = _project(store, [("Mvua kesho?", "weather")])
    [sample_id] = _ids(store, project)
    edit = decide(store, sample_id, "edit", version=1, text="Mvua kesho weather?")
    with store.session() as session:
        session.add(FlagRow(sample_id=sample_id, project_id=project.id, kind="label_leak", reason="says weather"))
    undo_decision(store, edit.action_id)
    assert get_sample(store, sample_id).flags == []  # they described the edited text; the next check recomputes
