"""The Curate page with AppTest: the real app script and store; review, bulk and undo, repeats, threshold."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from streamlit.testing.v1 import AppTest

from components.curate_tabs import BROWSE, OVERVIEW, REPEATS, REVIEW, TAB_KEY, THRESHOLD
from components.curation_charts import count_heatmap, similarity_histogram
from core.curation.duplicate_flags import load_items
from core.curation.overview import accepted_matrix
from core.curation.sample_actions import bulk_change, change_sample
from core.curation.threshold_help import similarity_profile, threshold_choice
from core.embeddings.service import embed
from core.io.importer import ColumnMapping, execute_import, plan_import
from core.store import Store, open_store
from core.store.projects import Project, create_project, parse_spec
from core.store.samples import SampleFilter, count_samples, get_sample, page_samples
from core.store.schema import FlagRow
from tests.page_text import texts

ROOT = Path(__file__).resolve().parents[2]
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


def _curate(tab: str = REVIEW) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.run()
    at.switch_page("pages/curate.py").run()
    assert not at.exception, at.exception
    if tab != REVIEW:
        _open(at, tab)
    return at


def _open(at: AppTest, tab: str) -> AppTest:
    """Click a tab of the Curate page (only the open tab runs)."""
    at.session_state[TAB_KEY] = tab
    at.run()
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
    at = _curate(BROWSE)
    at.multiselect(key=f"curate_{project.id}_lang").select("en").run()
    at.radio(key=f"bulk_{project.id}_target").set_value("all 2 matching the filters").run()
    at.button(key=f"bulk_{project.id}_apply").click().run()
    assert not at.exception
    assert "2 samples accepted" in _texts(at.success)
    assert count_samples(store, project.id, SampleFilter(statuses=("accepted",))) == 2
    assert "Last bulk action: **accept** of 2 samples" in _texts(at.caption)
    at.button(key=f"bulk_{project.id}_browse_undo").click().run()
    assert "2 samples restored" in _texts(at.success)
    assert count_samples(store, project.id, SampleFilter(statuses=("accepted",))) == 0


def test_bulk_apply_and_undo_stay_on_the_browse_tab_and_only_it_runs(studio_home: Path) -> None:
    store = open_store()
    project = _project(store)
    at = _curate(BROWSE)
    assert not [b for b in at.button if b.key == "review_accept"]  # the closed Review tab did not run
    at.multiselect(key=f"curate_{project.id}_lang").select("en").run()
    at.radio(key=f"bulk_{project.id}_target").set_value("all 2 matching the filters").run()
    at.button(key=f"bulk_{project.id}_apply").click().run()
    assert at.session_state[TAB_KEY] == BROWSE and "2 samples accepted" in _texts(at.success)
    assert at.multiselect(key=f"curate_{project.id}_lang").value == ["en"]
    at.button(key=f"bulk_{project.id}_browse_undo").click().run()
    assert at.session_state[TAB_KEY] == BROWSE and "2 samples restored" in _texts(at.success)
    assert not [b for b in at.button if b.key == "review_accept"]
    # the filters are still there after a visit to another tab
    _open(at, REVIEW)
    assert [b for b in at.button if b.key == "review_accept"]
    _open(at, BROWSE)
    assert at.multiselect(key=f"curate_{project.id}_lang").value == ["en"]
    assert "Samples **1–2** of **2**" in _texts(at.markdown)


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
    at = _curate(REPEATS)
    assert "**1 group** of repeats" in _texts(at.markdown)
    assert "similarity 0.991" in _texts(at.caption)
    at.button(key=f"groups_{project.id}_keep_one").click().run()
    assert "1 sample rejected" in _texts(at.success)
    assert get_sample(store, ids[3]).status == "rejected" and get_sample(store, ids[2]).status == "pending"
    assert "No group of repeats left to resolve: every flagged repeat is rejected." in _texts(at.info)


def _repeat(store: Store, project: Project, member: int, representative: int) -> None:
    with store.session() as session:
        session.add(
            FlagRow(
                sample_id=member,
                project_id=project.id,
                kind="near_duplicate",
                reason=f"Almost the same as sample #{representative} (similarity 0.99).",
                details={"representative": representative, "similarity": 0.99},
            )
        )


def test_repeats_after_a_bulk_action_keep_one_and_undo(studio_home: Path) -> None:
    """Issue 14.1: after a bulk action the Repeats tab crashed (the undo button drawn in two tabs), and its group
    count was the one from before "Keep one per group"."""
    store = open_store()
    project = _project(store)
    ids = [s.id for s in page_samples(store, project.id).samples]
    _repeat(store, project, ids[3], ids[2])  # a pending repeat: keep-one rejects it
    _repeat(store, project, ids[1], ids[0])  # an accepted repeat: a person decided, keep-one leaves it
    bulk_change(store, project.id, "accept", ids=[ids[1]])  # a bulk action not undone: its undo button shows
    at = _curate(REPEATS)
    assert not at.error, _texts(at.error)  # was: "Loading the repeats did not work: StreamlitDuplicateElementKey"
    assert "**2 groups** of repeats" in _texts(at.markdown)
    assert "Last bulk action: **accept** of 1 sample by tester" in _texts(at.caption)
    at.button(key=f"groups_{project.id}_keep_one").click().run()
    assert not at.exception and not at.error, _texts(at.error)
    assert "1 sample rejected" in _texts(at.success)
    assert at.session_state[TAB_KEY] == REPEATS
    assert "**1 group** of repeats" in _texts(at.markdown)
    assert "Last bulk action: **reject** of 1 sample by tester" in _texts(at.caption)
    at.button(key=f"bulk_{project.id}_repeats_undo").click().run()
    assert not at.exception, at.exception
    assert "1 sample restored" in _texts(at.success)
    assert "**2 groups** of repeats" in _texts(at.markdown)
    assert at.session_state[TAB_KEY] == REPEATS
    assert get_sample(store, ids[3]).status == "pending"
    # the Browse tab draws its own undo button for the same bulk action
    _open(at, BROWSE)
    assert [b for b in at.button if b.key == f"bulk_{project.id}_browse_undo"]


def test_threshold_tab_waits_for_embeddings_then_saves_the_choice(studio_home: Path, tiny_encoder: Path) -> None:
    store = open_store()
    project = _project(store, encoder=str(tiny_encoder))
    at = _curate(THRESHOLD)
    assert "not all embedded yet" in _texts(at.info)
    embed([s.text for s in page_samples(store, project.id).samples], str(tiny_encoder))
    at = _curate(THRESHOLD)
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
    at = _curate(OVERVIEW)
    frames = [d.value for d in at.dataframe]
    diversity = next(f for f in frames if "verdict" in f.columns)
    assert set(zip(diversity["language"], diversity["label"], strict=True)) == {
        ("Swahili", "weather"),
        ("Swahili", "prices"),
        ("English", "weather"),
    }
    assert diversity.set_index("label").loc["prices", "samples"] == 1
    assert diversity.set_index("label").loc["prices", "mean similarity"] == "–"  # one sample: a dash, never None
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


def test_the_last_check_stays_on_the_page_with_a_button_per_flag(studio_home: Path, tiny_encoder: Path) -> None:
    """Issue 14.6: what the check found was only on the Jobs page once its job ended."""
    from core.cli import main

    store = open_store()
    project = _project(store, encoder=str(tiny_encoder))
    assert main(["flag", "--project", "Farm SMS", "--threshold", "0.999"]) == 0
    at = _curate()
    shown = _texts(at.markdown)
    assert "**Last check** just now (" in shown and "UTC): 4 samples checked; flagged: near repeat 1." in shown
    button = at.button(key=f"last_check_{project.id}_near_duplicate")
    assert button.label == "near repeat: review 1"
    _open(at, OVERVIEW)  # the button works from any tab
    at.button(key=f"last_check_{project.id}_near_duplicate").click().run()
    assert not at.exception, at.exception
    assert at.session_state[TAB_KEY] == REVIEW
    assert at.selectbox(key=f"review_{project.id}_flag").value == "near_duplicate"
    assert "Sample 1 of 1 in this queue" in _texts(at.caption)
    assert "Will it rain tomorrow ?" in _texts(at.text)
    at.button(key="review_reject").click().run()
    # nothing of that flag is left to review: the button now shows them all in the Browse tab
    button = at.button(key=f"last_check_{project.id}_near_duplicate")
    assert button.label == "near repeat: none to review"
    assert "flagged: near repeat 1" in _texts(at.markdown)  # what that check found stays
    button.click().run()
    assert at.session_state[TAB_KEY] == BROWSE
    assert at.multiselect(key=f"curate_{project.id}_flag").value == ["near_duplicate"]
    [table] = [d.value for d in at.dataframe]
    assert list(table["text"]) == ["Will it rain tomorrow ?"] and list(table["status"]) == ["rejected"]


def test_undo_the_last_review_decision_with_u(studio_home: Path) -> None:
    """Issue 14.12: pressing 2 relabelled, accepted and moved on, with no way back."""
    store = open_store()
    project = _project(store)
    first, second, *_ = [s.id for s in page_samples(store, project.id).samples]
    at = _curate()
    undo = at.button(key="review_undo")
    assert undo.proto.shortcut.upper() == "U" and undo.disabled  # nothing to undo yet
    at.button(key="review_label_1").click().run()  # key 2: "prices", accepted, on to the next sample
    assert (get_sample(store, first).label, get_sample(store, first).status) == ("prices", "accepted")
    assert "Bei ya mahindi" in _texts(at.text)
    at.button(key="review_undo").click().run()
    assert not at.exception, at.exception
    restored = get_sample(store, first)
    assert (restored.label, restored.status) == ("weather", "pending")
    assert "Undone: your new label of sample #" in _texts(at.success)
    assert "Mvua itanyesha kesho?" in _texts(at.text) and "Sample 1 of 4 in this queue" in _texts(at.caption)
    assert at.button(key="review_undo").disabled
    # two decisions: U undoes the newest first, then the one before
    at.button(key="review_reject").click().run()
    at.button(key="review_accept").click().run()
    assert (get_sample(store, first).status, get_sample(store, second).status) == ("rejected", "accepted")
    at.button(key="review_undo").click().run()
    assert (get_sample(store, first).status, get_sample(store, second).status) == ("rejected", "pending")
    assert "Bei ya mahindi" in _texts(at.text)
    at.button(key="review_undo").click().run()
    assert get_sample(store, first).status == "pending" and "Mvua itanyesha kesho?" in _texts(at.text)


def test_undoing_a_decision_someone_changed_since_is_refused(studio_home: Path) -> None:
    store = open_store()
    project = _project(store)
    first = page_samples(store, project.id).samples[0].id
    at = _curate()
    at.button(key="review_reject").click().run()
    bob = Store(store.url, "bob")
    change_sample(bob, first, "relabel", version=get_sample(store, first).version, label="prices")
    bob.dispose()
    at.button(key="review_undo").click().run()
    assert not at.exception, at.exception
    warning = _texts(at.warning)
    assert f"Sample #{first} was changed by bob" in warning and "Your decision was not undone" in warning
    now = get_sample(store, first)
    assert (now.label, now.status, now.updated_by) == ("prices", "accepted", "bob")  # bob's change stays
    assert at.button(key="review_undo").disabled  # that decision is gone from the list; nothing older to undo


def test_undo_brings_back_the_text_before_an_edit(studio_home: Path) -> None:
    store = open_store()
    project = _project(store)
    first = page_samples(store, project.id).samples[0].id
    at = _curate()
    _text_box(at).input("Mvua itanyesha kesho asubuhi?").run()
    next(b for b in at.button if b.label == "Save text").click().run()
    assert get_sample(store, first).text == "Mvua itanyesha kesho asubuhi?"
    at.button(key="review_undo").click().run()
    assert get_sample(store, first).text == "Mvua itanyesha kesho?"
    assert "Undone: your text edit" in _texts(at.success)
    assert _text_box(at).value == "Mvua itanyesha kesho?"


LONG = "Mvua kubwa " + " ".join(f"neno{i}" for i in range(120)) + " mwisho wa ujumbe."


def _long_text_project(store: Store) -> Project:
    project = _project(store)
    frame = pd.DataFrame([(LONG, "weather", "sw")], columns=["text", "label", "language"], dtype=object)
    mapping = ColumnMapping("text", "label", language_column="language", origin="synthetic", status="pending")
    execute_import(store, project, plan_import(store, project, frame, mapping, "long.csv"))
    return project


def test_a_long_text_in_the_browse_table_can_be_read_in_full(studio_home: Path) -> None:
    """Issue 14 (smaller ones): a table cell cuts a long text; the Data and Curate browsers open one in full."""
    store = open_store()
    project = _long_text_project(store)
    [long_id] = [s.id for s in page_samples(store, project.id).samples if s.text == LONG]
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.run()
    at.switch_page("pages/data.py").run()
    assert not at.exception, at.exception
    picker = next(s for s in at.selectbox if s.label == "Read a sample in full")
    assert LONG not in _texts(at.text)
    picker.select(long_id).run()
    assert not at.exception, at.exception
    assert LONG in [t.value for t in at.text]
    at = _curate(BROWSE)
    next(s for s in at.selectbox if s.label == "Read a sample in full").select(long_id).run()
    assert LONG in [t.value for t in at.text]
    assert f"Sample #{long_id} · Swahili · label weather · pending · train" in _texts(at.caption)


def test_gold_checks_are_chosen_row_by_row_in_the_bulk_panel(studio_home: Path) -> None:
    store = open_store()
    project = _project(store)
    at = _curate(BROWSE)
    action = at.selectbox(key=f"bulk_{project.id}_action")
    assert {"Mark as gold checks", "Gold checks no more"} <= set(action.options)  # a lead's (here: the owner's)
    action.select("Mark as gold checks").run()
    assert "Gold checks are human samples whose label is the right answer" in _texts(at.caption)
    at.radio(key=f"bulk_{project.id}_target").set_value("all 4 matching the filters").run()
    at.button(key=f"bulk_{project.id}_apply").click().run()
    assert not at.exception, at.exception
    assert "Tick the rows of the samples to mark in the table first" in _texts(at.info)
