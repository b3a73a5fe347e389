"""Projects in the store: create, read, list, update (with label renames), and what gets refused."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from core.errors import InvalidInput, NotFound
from core.io.exporter import export_project
from core.io.importer import ColumnMapping, import_file
from core.store import Store
from core.store.action_log import list_actions
from core.store.projects import create_project, get_project, list_projects, parse_spec, update_project
from core.store.samples import SampleFilter, count_samples, iter_samples


def _spec(name: str = "Support", labels=("billing", "outage"), languages=("en", "sw"), **extra):  # type: ignore[no-untyped-def]
    return parse_spec(
        name=name,
        labels=[lb if isinstance(lb, dict) else {"name": lb} for lb in labels],
        languages=[{"code": code} for code in languages],
        **extra,
    )


def _import_rows(store: Store, project: str, tmp_path: Path, rows: list[dict[str, str]]) -> None:
    path = tmp_path / f"rows-{len(list(tmp_path.iterdir()))}.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=["text", "label", "language"])
        writer.writeheader()
        writer.writerows(rows)
    mapping = ColumnMapping(text_column="text", label_column="label", language_column="language")
    import_file(store, project, path, mapping)


def test_create_then_get_by_name_and_id_returns_the_definition(store: Store) -> None:
    spec = parse_spec(
        name="  Help   desk ",
        task="Route customer messages",
        labels=[
            {"name": "billing", "description": "money questions", "names": {"SW": ["malipo", "bili"], "en": []}},
            {"name": "outage", "description": "service is down"},
        ],
        languages=[{"code": "swa"}, {"code": "en"}],
    )
    created = create_project(store, spec)

    by_name = get_project(store, "Help desk")
    by_id = get_project(store, created.id)
    assert by_name == by_id == created
    assert by_name.name == "Help desk"  # spaces collapsed
    assert by_name.task == "Route customer messages"
    assert by_name.label_names == ["billing", "outage"]
    assert by_name.label("billing").description == "money questions"
    # the ISO 639-3 code and the upper-case code are both stored as the two-letter code
    assert by_name.language_codes == ["sw", "en"]
    assert [lang.name for lang in by_name.languages] == ["Swahili", "English"]
    assert by_name.created_by == "tester"
    assert by_name.encoder  # the default encoder from the settings


def test_per_language_label_names_are_kept(store: Store) -> None:
    spec = _spec(
        labels=[
            {"name": "billing", "names": {"sw": ["malipo", "bili", "malipo"], "en": ["billing question"]}},
            "outage",
        ]
    )
    create_project(store, spec)

    project = get_project(store, "Support")
    billing = project.label("billing")
    assert billing.names == {"sw": ["malipo", "bili"], "en": ["billing question"]}  # repeats dropped, order kept
    assert billing.name_in("sw") == "malipo"
    assert project.label("outage").name_in("sw") == "outage"  # no translation: the label's own name


def test_list_projects_gives_every_project_by_name(sqlite_store: Store) -> None:
    store = sqlite_store
    create_project(store, _spec("Zeta"))
    create_project(store, _spec("Alpha"))
    assert [p.name for p in list_projects(store)] == ["Alpha", "Zeta"]


def test_unknown_project_is_not_found(sqlite_store: Store) -> None:
    store = sqlite_store
    with pytest.raises(NotFound, match="no project called 'Nope'"):
        get_project(store, "Nope")


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"languages": [{"code": "xx"}]}, "unknown language code 'xx'"),
        ({"labels": [{"name": "a", "names": {"qq": ["x"]}}]}, "unknown language code 'qq'"),
        ({"labels": []}, "at least one label"),
        ({"languages": []}, "at least one language"),
        ({"labels": [{"name": "Spam"}, {"name": "spam"}]}, "listed twice"),
        ({"languages": [{"code": "sw"}, {"code": "swa"}]}, "listed twice"),
        ({"labels": [{"name": "a,b"}]}, "commas"),
        ({"name": "   "}, "needs a name"),
    ],
)
def test_invalid_definitions_are_refused_with_a_readable_message(fields: dict, message: str) -> None:
    base = {"name": "P", "labels": [{"name": "a"}], "languages": [{"code": "en"}]}
    with pytest.raises(InvalidInput, match=message):
        parse_spec(**{**base, **fields})


def test_duplicate_project_names_are_refused_on_create_and_rename(store: Store) -> None:
    create_project(store, _spec("One"))
    create_project(store, _spec("Two"))
    with pytest.raises(InvalidInput, match="already exists"):
        create_project(store, _spec("One"))
    with pytest.raises(InvalidInput, match="already exists"):
        update_project(store, "Two", _spec("One"))
    assert [p.name for p in list_projects(store)] == ["One", "Two"]


def test_update_changes_name_task_labels_and_languages(store: Store) -> None:
    created = create_project(store, _spec())
    updated = update_project(
        store, created.id, _spec("Support v2", labels=("billing", "outage", "other"), languages=("en", "sw", "de"))
    )
    assert updated.id == created.id
    again = get_project(store, "Support v2")
    assert again.label_names == ["billing", "outage", "other"]
    assert again.language_codes == ["en", "sw", "de"]
    with pytest.raises(NotFound):
        get_project(store, "Support")


def test_renaming_a_label_moves_its_samples(store: Store, tmp_path: Path) -> None:
    create_project(store, _spec())
    _import_rows(
        store,
        "Support",
        tmp_path,
        [
            {"text": "my bill is wrong", "label": "billing", "language": "en"},
            {"text": "nimetozwa pesa mara mbili", "label": "billing", "language": "sw"},
            {"text": "the network is down", "label": "outage", "language": "en"},
        ],
    )
    project = update_project(store, "Support", _spec(labels=("payments", "outage")), renames={"billing": "payments"})

    by_label = {s.text: s.label for s in iter_samples(store, project.id)}
    assert by_label == {
        "my bill is wrong": "payments",
        "nimetozwa pesa mara mbili": "payments",
        "the network is down": "outage",
    }
    assert count_samples(store, project.id, SampleFilter(labels=("billing",))) == 0
    moved = [s for s in iter_samples(store, project.id) if s.label == "payments"]
    assert all(s.version == 2 and s.updated_by == "tester" for s in moved)


def test_swapping_two_label_names_keeps_the_samples_apart(store: Store, tmp_path: Path) -> None:
    create_project(store, _spec())
    _import_rows(
        store,
        "Support",
        tmp_path,
        [
            {"text": "my bill is wrong", "label": "billing", "language": "en"},
            {"text": "the network is down", "label": "outage", "language": "en"},
        ],
    )
    project = update_project(store, "Support", _spec(), renames={"billing": "outage", "outage": "billing"})
    assert {s.text: s.label for s in iter_samples(store, project.id)} == {
        "my bill is wrong": "outage",
        "the network is down": "billing",
    }


def test_after_a_rename_reimporting_an_export_adds_nothing(store: Store, tmp_path: Path) -> None:
    create_project(store, _spec())
    _import_rows(
        store,
        "Support",
        tmp_path,
        [
            {"text": "my bill is wrong", "label": "billing", "language": "en"},
            {"text": "the network is down", "label": "outage", "language": "en"},
        ],
    )
    project = update_project(store, "Support", _spec(labels=("payments", "outage")), renames={"billing": "payments"})
    export = tmp_path / "after-rename.csv"
    export_project(store, project.id, "csv", export)

    mapping = ColumnMapping(text_column="text", label_column="label", language_column="language")
    result = import_file(store, project.id, export, mapping)
    assert result.imported == 0
    assert result.skipped == 2
    assert count_samples(store, project.id) == 2


def test_removing_a_label_still_used_is_refused_and_changes_nothing(store: Store, tmp_path: Path) -> None:
    create_project(store, _spec())
    _import_rows(
        store,
        "Support",
        tmp_path,
        [
            {"text": "my bill is wrong", "label": "billing", "language": "en"},
            {"text": "charged twice", "label": "billing", "language": "en"},
        ],
    )
    with pytest.raises(InvalidInput) as refused:
        update_project(store, "Support", _spec(labels=("outage",)))
    assert str(refused.value) == (
        "The label 'billing' cannot be removed: 2 samples use it. Relabel or delete them first."
    )
    assert get_project(store, "Support").label_names == ["billing", "outage"]

    # an unused label can go
    assert update_project(store, "Support", _spec(labels=("billing",))).label_names == ["billing"]


def test_removing_a_language_still_used_is_refused(store: Store, tmp_path: Path) -> None:
    create_project(store, _spec())
    _import_rows(store, "Support", tmp_path, [{"text": "bili yangu", "label": "billing", "language": "sw"}])
    with pytest.raises(InvalidInput, match=r"The language 'Swahili' cannot be removed: 1 samples are in it"):
        update_project(store, "Support", _spec(languages=("en",)))
    assert get_project(store, "Support").language_codes == ["en", "sw"]
    # English is unused: removing it works
    assert update_project(store, "Support", _spec(languages=("sw",))).language_codes == ["sw"]


def test_rename_to_a_label_that_is_not_in_the_new_definition_is_refused(sqlite_store: Store) -> None:
    store = sqlite_store
    create_project(store, _spec())
    with pytest.raises(InvalidInput, match="'payments' is not among the labels"):
        update_project(store, "Support", _spec(), renames={"billing": "payments"})


def test_action_log_records_create_and_update_by_the_user(store: Store, tmp_path: Path) -> None:
    project = create_project(store, _spec())
    _import_rows(store, "Support", tmp_path, [{"text": "my bill", "label": "billing", "language": "en"}])
    update_project(store, "Support", _spec(labels=("payments", "outage")), renames={"billing": "payments"})

    actions = {a.action: a for a in list_actions(store, project.id)}
    assert {"project.create", "project.update", "samples.import"} <= set(actions)
    create = actions["project.create"]
    assert create.who == "tester"
    assert create.before is None
    assert [lb["name"] for lb in create.after["labels"]] == ["billing", "outage"]
    change = actions["project.update"]
    assert change.who == "tester"
    assert [lb["name"] for lb in change.before["labels"]] == ["billing", "outage"]
    assert [lb["name"] for lb in change.after["labels"]] == ["payments", "outage"]
    assert change.after["renamed_labels"] == {"billing": "payments"}
