"""Curators' actions on real stores: one by one with optimistic locking, in bulk, logged, and undone."""

from __future__ import annotations

import pandas as pd
import pytest

from core.cli import main
from core.curation.sample_actions import bulk_change, change_sample, last_bulk_action, undo_last_bulk
from core.errors import EditConflict, InvalidInput
from core.io.importer import ColumnMapping, execute_import, plan_import
from core.store import Store, open_store
from core.store.action_log import list_actions
from core.store.projects import Project, create_project, parse_spec
from core.store.samples import SampleFilter, get_sample, page_samples
from core.store.schema import FlagRow


def _project(store: Store, rows: list[tuple[str, str | None]], status: str = "pending") -> Project:
    project = create_project(
        store,
        parse_spec(name="cur", labels=[{"name": "weather"}, {"name": "prices"}], languages=[{"code": "sw"}]),
    )
    frame = pd.DataFrame(rows, columns=["text", "label"], dtype=object)
    mapping = ColumnMapping("text", "label", language="sw", origin="synthetic", status=status)
    execute_import(store, project, plan_import(store, project, frame, mapping, "cur.csv"))
    return project


def _ids(store: Store, project: Project) -> list[int]:
    return [s.id for s in page_samples(store, project.id, page_size=1000).samples]


def test_single_changes_are_logged_with_who_and_before_after(store: Store) -> None:
    project = _project(store, [("Mvua kesho?", "weather"), ("Bei ya mahindi", "weather")])
    first, second = _ids(store, project)
    sample = change_sample(store, first, "accept", version=1)
    assert sample.status == "accepted" and sample.version == 2 and sample.updated_by == "tester"
    relabelled = change_sample(store, second, "relabel", version=1, label="prices")
    assert (relabelled.label, relabelled.status) == ("prices", "accepted")
    edited = change_sample(store, second, "edit", version=relabelled.version, text="  Bei ya mahindi leo  ")
    assert edited.text == "Bei ya mahindi leo" and edited.version == 3
    actions = list_actions(store, project.id)
    edit, relabel, accept = actions[0], actions[1], actions[2]
    assert (edit.action, edit.before["text"], edit.after["text"]) == ("edit", "Bei ya mahindi", "Bei ya mahindi leo")
    assert (relabel.before["label"], relabel.after["label"]) == ("weather", "prices")
    assert (accept.who, accept.target, accept.before["status"], accept.after["status"]) == (
        "tester",
        f"sample:{first}",
        "pending",
        "accepted",
    )


def test_the_second_of_two_concurrent_edits_gets_a_conflict_not_an_overwrite(store: Store) -> None:
    project = _project(store, [("Mvua kesho?", "weather")])
    [sample_id] = _ids(store, project)
    seen_by_ana = seen_by_ben = get_sample(store, sample_id)
    assert seen_by_ana is not None and seen_by_ben is not None
    change_sample(store, sample_id, "relabel", version=seen_by_ana.version, label="prices")
    with pytest.raises(EditConflict, match=r"was changed by tester .* not saved"):
        change_sample(store, sample_id, "edit", version=seen_by_ben.version, text="Something else")
    after = get_sample(store, sample_id)
    assert after is not None and (after.label, after.text) == ("prices", "Mvua kesho?")


def test_labelling_unlabeled_samples_and_refusals(store: Store) -> None:
    project = _project(store, [("Mvua kesho?", None), ("Bei leo", None)], status="unlabeled")
    first, second = _ids(store, project)
    with pytest.raises(InvalidInput, match="no label yet"):
        change_sample(store, first, "accept", version=1)
    with pytest.raises(InvalidInput, match="not a label of this project"):
        change_sample(store, first, "label", version=1, label="sports")
    labelled = change_sample(store, first, "label", version=1, label="weather")
    assert (labelled.label, labelled.status) == ("weather", "accepted")
    with pytest.raises(InvalidInput, match="cannot be empty"):
        change_sample(store, second, "edit", version=1, text="   ")
    result = bulk_change(store, project.id, "accept", ids=[first, second])
    assert (result.changed, result.unchanged) == (0, 1) and "without a label" in result.message


def test_bulk_by_filter_and_undo_restore_exactly_what_changed(store: Store) -> None:
    project = _project(store, [(f"Sentensi {i}", "weather") for i in range(30)])
    ids = _ids(store, project)
    change_sample(store, ids[0], "reject", version=1)  # not part of the bulk action
    result = bulk_change(store, project.id, "accept", flt=SampleFilter(statuses=("pending",)))
    assert result.changed == 29 and result.batch
    last = last_bulk_action(store, project.id)
    assert last is not None and (last.action, last.samples) == ("accept", 29)
    change_sample(store, ids[5], "relabel", version=2, label="prices")  # changed again after the bulk action
    undo = undo_last_bulk(store, project.id)
    assert (undo.restored, undo.skipped) == (28, 1) and "changed again" in undo.message
    statuses = {s.id: (s.status, s.label) for s in page_samples(store, project.id, page_size=100).samples}
    assert statuses[ids[0]] == ("rejected", "weather")
    assert statuses[ids[5]] == ("accepted", "prices")
    assert all(statuses[i] == ("pending", "weather") for i in ids[1:] if i != ids[5])
    assert last_bulk_action(store, project.id) is None  # an undone action is not undone twice
    with pytest.raises(InvalidInput, match="no bulk action to undo"):
        undo_last_bulk(store, project.id)


def test_bulk_relabel_by_selection_skips_samples_changed_since_they_were_seen(store: Store) -> None:
    project = _project(store, [("a", "weather"), ("b", "weather"), ("c", "weather")])
    ids = _ids(store, project)
    seen = {i: 1 for i in ids}
    change_sample(store, ids[1], "edit", version=1, text="b2")
    result = bulk_change(store, project.id, "relabel", ids=ids, versions=seen, label="prices")
    assert (result.changed, result.conflicts) == (2, 1) and "someone else" in result.message
    labels = {s.id: s.label for s in page_samples(store, project.id).samples}
    assert labels == {ids[0]: "prices", ids[1]: "weather", ids[2]: "prices"}
    # relabelling changes the content key, so re-importing the old row adds it again rather than skipping it
    undo_last_bulk(store, project.id)
    assert {s.id: s.label for s in page_samples(store, project.id).samples}[ids[0]] == "weather"


def test_editing_a_text_drops_the_flags_that_described_the_old_text(sqlite_store: Store) -> None:
    project = _project(sqlite_store, [("Mvua kesho?", "weather")])
    [sample_id] = _ids(sqlite_store, project)
    with sqlite_store.session() as session:
        session.add(FlagRow(sample_id=sample_id, project_id=project.id, kind="too_short", reason="short", details={}))
    change_sample(sqlite_store, sample_id, "edit", version=1, text="Je, mvua itanyesha kesho asubuhi?")
    sample = get_sample(sqlite_store, sample_id)
    assert sample is not None and sample.flags == []


def test_curate_cli(capsys: pytest.CaptureFixture[str]) -> None:
    store = open_store()
    project = _project(store, [("a", "weather"), ("b", "weather"), ("c", None), ("d", "prices")])
    ids = _ids(store, project)
    with store.session() as session:
        session.add(FlagRow(sample_id=ids[3], project_id=project.id, kind="too_short", reason="short", details={}))
    assert main(["curate", "--project", "cur", "--accept-unflagged"]) == 0
    assert "2 samples accepted" in capsys.readouterr().out
    assert main(["curate", "--project", "cur", "--reject", f"{ids[0]},{ids[3]}"]) == 0
    assert main(["curate", "--project", "cur", "--relabel", f"{ids[2]}=prices", f"{ids[1]}=prices"]) == 0
    capsys.readouterr()
    samples = {s.id: (s.status, s.label) for s in page_samples(store, project.id).samples}
    assert samples == {
        ids[0]: ("rejected", "weather"),
        ids[1]: ("accepted", "prices"),
        ids[2]: ("accepted", "prices"),
        ids[3]: ("rejected", "prices"),
    }
    assert main(["curate", "--project", "cur", "--undo"]) == 0
    assert "2 samples restored" in capsys.readouterr().out
    assert {s.id: s.label for s in page_samples(store, project.id).samples}[ids[2]] is None
    assert main(["curate", "--project", "cur", "--relabel", f"{ids[2]}=sports"]) == 1
    assert "not a label of this project" in capsys.readouterr().err
    assert main(["curate", "--project", "cur", "--relabel", "oops"]) == 1
    assert "ID=LABEL" in capsys.readouterr().err
    assert main(["curate", "--project", "cur", "--accept", "12x"]) == 1
    assert "sample numbers" in capsys.readouterr().err
