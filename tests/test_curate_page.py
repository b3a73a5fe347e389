"""The Curate page with AppTest: the real app script and store; review, bulk and undo, repeats, threshold."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from streamlit.testing.v1 import AppTest

from components.curation_charts import count_heatmap, similarity_histogram
from core.curation.duplicate_flags import load_items
from core.curation.overview import accepted_matrix
from core.curation.sample_actions import change_sample
from core.curation.threshold_help import similarity_profile, threshold_choice
from core.embeddings.service import embed
from core.io.importer import ColumnMapping, execute_import, plan_import
from core.store import Store, open_store
from core.store.projects import Project, create_project, parse_spec
from core.store.samples import SampleFilter, count_samples, get_sample, page_samples
from core.store.schema import FlagRow
from tests.page_text import texts

ROOT = Path(__file__).resolve().parents[1]
TEXTS = [
    ("Mvua itanyesha kesho?", "weather", "sw"),
    ("Bei ya mahindi ni ngapi leo?", "prices", "sw"),
    ("Will it rain tomorrow?", "weather", "en"),
    ("Will it rain tomorrow ?", "weather", "en"),
]


def _project(store: Store, encoder: str | None = None) -> Project:
    spec = parse_spec(
        name="Farm SMS",
        labels=[{"name": "weather"}, {"name": "prices"}],
        languages=[{"code": "sw"}, {"code": "en"}],
        **({"encoder": encoder} if encoder else {}),
    )
    project = create_project(store, spec)
    frame = pd.DataFrame(TEXTS, columns=["text", "label", "language"], dtype=object)
    mapping = ColumnMapping("text", "label", language_column="language", origin="synthetic", status="pending")
    execute_import(store, project, plan_import(store, project, frame, mapping, "sms.csv"))
    return project


def _curate() -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.run()
    at.switch_page("pages/curate.py").run()
    assert not at.exception, at.exception
    return at


def _texts(elements) -> str:  # type: ignore[no-untyped-def]
    return texts(elements)


def test_without_samples_the_page_says_what_to_do(studio_home: Path) -> None:
    at = _curate()
    assert "Create a project first" in _texts(at.info)
    create_project(open_store(), parse_spec(name="Empty", labels=[{"name": "a"}], languages=[{"code": "en"}]))
    at = _curate()
    assert "no samples yet" in _texts(at.info)


def test_review_labels_accepts_rejects_and_reports_a_concurrent_edit(studio_home: Path) -> None:
    store = open_store()
    project = _project(store)
    first, second, third, _ = [s.id for s in page_samples(store, project.id).samples]
    at = _curate()
    assert "Sample 1 of 4 in this queue" in _texts(at.caption)
    assert "Mvua itanyesha kesho?" in _texts(at.text)
    shortcuts = {b.label: b.proto.shortcut for b in at.button if b.key and b.key.startswith("review_")}
    assert shortcuts["weather"] == "1" and shortcuts["prices"] == "2" and shortcuts["Accept"].upper() == "A"
    at.button(key="review_label_1").click().run()  # "prices" for the first sample: relabel and accept
    assert (get_sample(store, first).label, get_sample(store, first).status) == ("prices", "accepted")
    assert "labelled 'prices' and accepted" in _texts(at.success)
    assert "Bei ya mahindi" in _texts(at.text) and "Sample 1 of 3" in _texts(at.caption)
    at.button(key="review_reject").click().run()
    assert get_sample(store, second).status == "rejected"
    # someone else changes the sample on screen; accepting it now is refused with a readable message
    shown = get_sample(store, third)
    change_sample(store, third, "edit", version=shown.version, text="Will it rain the day after tomorrow?")
    at.button(key="review_accept").click().run()
    assert not at.exception
    assert "was changed by tester" in _texts(at.warning)
    assert get_sample(store, third).status == "pending"  # not overwritten
    at.button(key="review_next").click().run()
    assert "Will it rain tomorrow ?" in _texts(at.text)


def test_bulk_accept_by_filter_then_undo(studio_home: Path) -> None:
    store = open_store()
    project = _project(store)
    at = _curate()
    at.multiselect(key=f"curate_{project.id}_lang").select("en").run()
    at.radio(key=f"bulk_{project.id}_target").set_value("all 2 matching the filters").run()
    at.button(key=f"bulk_{project.id}_apply").click().run()
    assert not at.exception
    assert "2 samples accepted" in _texts(at.success)
    assert count_samples(store, project.id, SampleFilter(statuses=("accepted",))) == 2
    assert "Last bulk action: **accept** of 2 samples" in _texts(at.caption)
    at.button(key=f"bulk_{project.id}_undo").click().run()
    assert "2 samples restored" in _texts(at.success)
    assert count_samples(store, project.id, SampleFilter(statuses=("accepted",))) == 0


def test_repeats_side_by_side_and_keep_one_per_group(studio_home: Path) -> None:
    store = open_store()
    project = _project(store)
    ids = [s.id for s in page_samples(store, project.id).samples]
    with store.session() as session:
        session.add(
            FlagRow(
                sample_id=ids[3],
                project_id=project.id,
                kind="near_duplicate",
                reason=f"Almost the same as sample #{ids[2]} (similarity 0.99).",
                details={"representative": ids[2], "similarity": 0.9912},
            )
        )
    at = _curate()
    assert "**1 groups** of repeats" in _texts(at.markdown)
    assert "similarity 0.991" in _texts(at.caption)
    at.button(key=f"groups_{project.id}_keep_one").click().run()
    assert "1 sample rejected" in _texts(at.success)
    assert get_sample(store, ids[3]).status == "rejected" and get_sample(store, ids[2]).status == "pending"
    assert "No repeats flagged" in _texts(at.info)


def test_threshold_tab_waits_for_embeddings_then_saves_the_choice(studio_home: Path, tiny_encoder: Path) -> None:
    store = open_store()
    project = _project(store, encoder=str(tiny_encoder))
    at = _curate()
    assert "not all embedded yet" in _texts(at.info)
    embed([s.text for s in page_samples(store, project.id).samples], str(tiny_encoder))
    at = _curate()
    slider = at.slider(key=f"threshold_{project.id}_value")
    assert slider.value == threshold_choice(store, project.id, project.encoder).threshold
    slider.set_value(0.9).run()
    at.button(key=f"threshold_{project.id}_save").click().run()
    assert not at.exception
    choice = threshold_choice(store, project.id, str(tiny_encoder))
    assert (choice.threshold, choice.chosen) == (0.9, True)


def test_figures_show_the_numbers(studio_home: Path, tiny_encoder: Path) -> None:
    store = open_store()
    project = _project(store)
    change_sample(store, page_samples(store, project.id).samples[0].id, "accept", version=1)
    matrix = accepted_matrix(store, project)
    heatmap = count_heatmap(matrix).data[0]
    assert list(heatmap.z[0]) == [1, 0] and list(heatmap.z[1]) == [0, 0]  # sw: 1 weather; en: none
    assert heatmap.text[0][0] == "1" and heatmap.texttemplate == "%{text}"
    assert list(heatmap.y) == ["Swahili (sw)", "English (en)"]
    items = load_items(store, project.id)
    vectors = embed([i.text for i in items], str(tiny_encoder))
    profile = similarity_profile(items, vectors)
    figure = similarity_histogram(profile, 0.95)
    assert list(figure.data[0].x) == profile.similarities
    assert figure.layout.shapes[0].x0 == 0.95
    assert f"{profile.share_at_or_above(0.95):.0%} at or above" in figure.layout.annotations[0].text


def test_overview_shows_what_the_last_check_found(studio_home: Path, tiny_encoder: Path) -> None:
    from core.cli import main

    store = open_store()
    project = _project(store, encoder=str(tiny_encoder))
    assert main(["flag", "--project", "Farm SMS", "--threshold", "0.999"]) == 0
    at = _curate()
    frames = [d.value for d in at.dataframe]
    diversity = next(f for f in frames if "verdict" in f.columns)
    assert set(zip(diversity["language"], diversity["label"], strict=True)) == {
        ("Swahili", "weather"),
        ("Swahili", "prices"),
        ("English", "weather"),
    }
    assert diversity.set_index("label").loc["prices", "samples"] == 1
    from components.curation_overview import FLAG_NAMES
    from core.curation.overview import flag_counts

    expected = {FLAG_NAMES[kind]: n for kind, n in flag_counts(store, project.id).items()}
    assert expected == {"near repeat": 1}  # "Will it rain tomorrow ?" vs "Will it rain tomorrow?"
    flags = next(f for f in frames if "flag" in f.columns)
    assert dict(zip(flags["flag"], flags["samples"], strict=True)) == expected


def test_the_page_names_languages_the_detectors_cannot_judge(studio_home: Path, tiny_encoder: Path) -> None:
    from core.cli import main

    store = open_store()
    spec = parse_spec(
        name="Akan SMS",
        labels=[{"name": "weather"}],
        languages=[{"code": "tw"}, {"code": "en"}],
        encoder=str(tiny_encoder),
    )
    project = create_project(store, spec)
    frame = pd.DataFrame(
        [("Nsuo bɛtɔ ɔkyena anaa?", "weather", "tw"), ("Will it rain tomorrow in Kumasi?", "weather", "en")],
        columns=["text", "label", "language"],
        dtype=object,
    )
    mapping = ColumnMapping("text", "label", language_column="language", origin="synthetic", status="pending")
    execute_import(store, project, plan_import(store, project, frame, mapping, "akan.csv"))
    assert main(["flag", "--project", "Akan SMS"]) == 0
    at = _curate()
    assert "Twi is not known to the language detectors: its 1 sample was skipped" in _texts(at.info)


def _text_box(at: AppTest):  # type: ignore[no-untyped-def]
    return next(t for t in at.text_area if t.label == "Text")


def test_a_concurrent_text_edit_keeps_what_was_typed_and_shows_both_versions(studio_home: Path) -> None:
    store = open_store()
    project = _project(store)
    first = page_samples(store, project.id).samples[0]
    at = _curate()
    _text_box(at).input("Mvua itanyesha kesho asubuhi?").run()  # A types (not saved yet)
    bob = Store(store.url, "bob")
    change_sample(bob, first.id, "edit", version=first.version, text="Mvua itanyesha kesho jioni?")  # B saves first
    bob.dispose()
    next(b for b in at.button if b.label == "Save text").click().run()
    assert not at.exception, at.exception
    assert _text_box(at).value == "Mvua itanyesha kesho asubuhi?"  # A's text is still in the box
    assert "was changed by bob" in _texts(at.warning) and "Your change was not saved" in _texts(at.warning)
    shown = _texts(at.text)
    assert "Mvua itanyesha kesho jioni?" in shown and "Mvua itanyesha kesho asubuhi?" in shown  # both versions
    assert get_sample(store, first.id).text == "Mvua itanyesha kesho jioni?"  # B's text was not overwritten
    # A decides: their own text replaces B's, knowingly
    at.button(key=f"review_save_mine_{first.id}").click().run()
    assert not at.exception, at.exception
    saved = get_sample(store, first.id)
    assert (saved.text, saved.updated_by) == ("Mvua itanyesha kesho asubuhi?", "tester")
    assert "Saved the new text" in _texts(at.success)
    assert _text_box(at).value == "Mvua itanyesha kesho asubuhi?"
    assert all(b.key != f"review_save_mine_{first.id}" for b in at.button)  # no conflict any more


def test_keeping_the_other_text_drops_what_was_typed(studio_home: Path) -> None:
    store = open_store()
    project = _project(store)
    first = page_samples(store, project.id).samples[0]
    at = _curate()
    _text_box(at).input("my version").run()
    change_sample(Store(store.url, "bob"), first.id, "edit", version=first.version, text="bob's version")
    at.run()  # any rerun shows the conflict at once, before A saves
    assert "bob saved another text of this sample" in _texts(at.warning)
    at.button(key=f"review_keep_theirs_{first.id}").click().run()
    assert _text_box(at).value == "bob's version" and get_sample(store, first.id).text == "bob's version"
    assert "saved another text" not in _texts(at.warning)
