"""Review work on the pages (AppTest, real SQLite, signed in through the form): an annotator judges their own queue
(the judgement is stored with its time, undo takes it back, nothing of the others' judgements shows); a lead hands
out samples and re-balances them with the Assign tab, decides a disagreement on the Adjudicate tab; the Team page
shows core's agreement figures to leads and owners, and nothing of it to annotators."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import krippendorff
import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from components.agreement_view import TEAM_TAB, shown
from components.curate_tabs import TAB_KEY
from core.front.accounts import add_account, add_project_member
from core.front.actor import Actor
from core.front.data import ColumnMapping, execute_import, iter_samples, plan_import
from core.front.projects import Project, create_project, get_project, parse_spec
from core.front.review import (
    account_languages_of,
    adjudication_queue,
    agreement,
    assign,
    judge,
    my_queue,
    sample_judgements,
    set_account_languages,
    set_review_settings,
)
from core.store import Store, open_store
from tests.page_text import texts

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "a long enough password"
SIGN_IN = "FormSubmitter:sign_in-Sign in"
HAND_OUT = "FormSubmitter:review_assign-Hand out"
TEXTS = [
    ("Will it rain all week?", "weather"),
    ("Aphids on the beans again", "pests"),
    ("Frost tonight in the valley", "weather"),
    ("Locusts seen near the river", "pests"),
    ("A dry spell is coming", "weather"),
    ("Mites on the cassava leaves", "pests"),
]


@dataclass(frozen=True)
class Team:
    store: Store
    lena: Actor
    anna: Actor
    ben: Actor
    project: Project


@pytest.fixture
def team(studio_home: Path) -> Team:
    """olga (owner), lena (lead), anna, ben and carl (annotators judging English), and a project 'crops' of six
    pending samples with all of them as members."""
    store = open_store()
    add_account(Actor.of(store), "olga", "owner", PASSWORD, display_name="Olga Owner")
    olga = Actor(store, "olga", "owner", team=True)
    add_account(olga, "lena", "lead", PASSWORD, display_name="Lena Lead")
    for name in ("anna", "ben", "carl"):
        add_account(olga, name, "annotator", PASSWORD, display_name=name.title())
        set_account_languages(olga, name, ["en"])
    lena = Actor(store, "lena", "lead", team=True)
    project = create_project(
        lena, parse_spec(name="crops", labels=[{"name": "weather"}, {"name": "pests"}], languages=[{"code": "en"}])
    )
    for name in ("lena", "anna", "ben", "carl"):
        add_project_member(olga, project.id, name)
    frame = pd.DataFrame(TEXTS, columns=["text", "label"])
    mapping = ColumnMapping("text", "label", language="en", origin="synthetic", status="pending")
    execute_import(lena, project, plan_import(lena, project, frame, mapping, "rows"))
    project = get_project(lena, project.id)
    return Team(
        store, lena, Actor(store, "anna", "annotator", team=True), Actor(store, "ben", "annotator", team=True), project
    )


def _ok(at: AppTest) -> AppTest:
    assert not at.exception, at.exception
    return at


def _signed_in(username: str, page: str) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.run()
    at.text_input[0].input(username)
    at.text_input[1].input(PASSWORD)
    _ok(at.button(key=SIGN_IN).click().run())
    return _ok(at.switch_page(f"pages/{page}.py").run())


def _tab(at: AppTest, name: str) -> AppTest:
    at.session_state[TAB_KEY] = name
    return _ok(at.run())


def _click(at: AppTest, key: str) -> AppTest:
    return _ok(at.button(key=key).click().run())


def _shown_sample(at: AppTest) -> int:
    """The id of the sample on the annotator's card ("Sample #12 · English · label ...")."""
    line = next(m.value for m in at.markdown if str(m.value).startswith("Sample \\#"))
    return int(str(line).removeprefix("Sample \\#").split(" ")[0])


def _everything(at: AppTest) -> str:
    return " ".join(texts(kind) for kind in (at.markdown, at.caption, at.success, at.info, at.error, at.warning))


def test_an_annotator_judges_their_queue_and_undoes_their_last_judgement(team: Team) -> None:
    assign(team.lena, team.project, ["anna", "ben"], overlap=2)
    first = my_queue(team.ben, team.project).entries[0].sample_id
    judge(team.ben, team.project, first, "label", label="pests")  # ben first, against the sample's label

    at = _signed_in("anna", "curate")
    assert "**My queue** · 0 of 6 judged" in texts(at.markdown)
    assert not at.button_group  # an annotator has no way to the whole project's review
    assert _shown_sample(at) == first
    assert "label **weather**" in texts(at.markdown)  # the sample's own label, not ben's judgement
    assert "ben" not in _everything(at).lower()

    _click(at, "myqueue_label_0")  # key 1: the label "weather"
    assert f"Saved your judgement of sample #{first}. Press U to undo it." in texts(at.success)
    assert "**My queue** · 1 of 6 judged" in texts(at.markdown)
    mine = [j for j in sample_judgements(team.lena, first) if j.annotator == "anna"]
    assert [(j.decision, j.label) for j in mine] == [("label", "weather")]
    assert mine[0].seconds is not None and mine[0].seconds >= 0

    second = _shown_sample(at)
    assert second != first
    _click(at, "myqueue_next")
    third = _shown_sample(at)
    _click(at, "myqueue_previous")
    assert _shown_sample(at) == second
    _click(at, "myqueue_reject")  # key X
    assert "**My queue** · 2 of 6 judged" in texts(at.markdown)
    assert _shown_sample(at) == third
    assert [j.decision for j in sample_judgements(team.anna, second)] == ["reject"]

    _click(at, "myqueue_undo")  # key U: the reject of `second` is taken back, and that sample is shown again
    assert f"Undone: your judgement of sample #{second}." in texts(at.success)
    assert "**My queue** · 1 of 6 judged" in texts(at.markdown)
    assert _shown_sample(at) == second
    assert sample_judgements(team.anna, second) == []  # anna has no judgement of it: she sees none
    assert my_queue(team.anna, team.project).done == 1


def test_someone_without_assignments_keeps_the_review_queue(team: Team) -> None:
    at = _signed_in("anna", "curate")
    assert "Sample 1 of 6 in this queue" in texts(at.caption)
    assert "My queue" not in texts(at.markdown)
    assert [t.label for t in at.tabs] == ["Review", "Browse & bulk", "Repeats", "Threshold", "Overview"]


def test_a_lead_hands_out_samples_and_rebalances_them(team: Team) -> None:
    at = _tab(_signed_in("lena", "curate"), "Assign")
    assert [t.label for t in at.tabs][-2:] == ["Assign", "Adjudicate"]
    assert "Nothing handed out yet." in texts(at.caption)
    [picker] = [m for m in at.multiselect if m.label == "Annotators"]
    assert picker.options == ["Anna (anna) · English", "Ben (ben) · English", "Carl (carl) · English"]
    picker.set_value(["anna", "ben"])
    [overlap] = [n for n in at.number_input if n.label == "Annotators per sample"]
    overlap.set_value(2)
    [rule] = [r for r in at.radio if r.label == "When the annotators of a sample differ"]
    rule.set_value("majority")
    _click(at, HAND_OUT)
    assert "Handed out 6 samples to be judged 2 times each: anna 6, ben 6." in texts(at.success)
    assert (my_queue(team.anna, team.project).open, my_queue(team.ben, team.project).open) == (6, 6)
    progress = {m.label: m.value for m in at.metric}
    assert progress["Waiting for judgements"] == "6"

    _ok(at.multiselect(key="review_join").set_value(["carl"]).run())
    _click(at, "review_join_go")
    assert "Moved" in texts(at.success)
    carl = Actor(team.store, "carl", "annotator", team=True)
    shares = [my_queue(actor, team.project).open for actor in (team.anna, team.ben, carl)]
    assert sum(shares) == 12 and min(shares) >= 3  # carl took a fair share; each sample still has two annotators

    anna = _signed_in("anna", "curate")
    assert [t.label for t in anna.tabs] == ["Review", "Browse & bulk", "Repeats", "Threshold", "Overview"]


def test_a_lead_decides_a_disagreement_side_by_side(team: Team) -> None:
    set_review_settings(team.lena, team.project, rule="unanimous")
    assign(team.lena, team.project, ["anna", "ben"], overlap=2)
    disputed = my_queue(team.anna, team.project).entries[0].sample_id
    judge(team.anna, team.project, disputed, "label", label="weather", seconds=4)
    judge(team.ben, team.project, disputed, "reject", seconds=95)
    agreed = my_queue(team.anna, team.project).entries[0].sample_id
    judge(team.anna, team.project, agreed, "accept")
    judge(team.ben, team.project, agreed, "accept")

    at = _tab(_signed_in("lena", "curate"), "Adjudicate")
    assert "**1 sample** waits for your decision" in texts(at.markdown)
    page = _everything(at)
    assert "**Anna (anna)**" in page and "**Ben (ben)**" in page  # who, by display name
    assert "label 'weather'" in page and "rejected" in page
    assert "4.0 s ·" in page and "95 s ·" in page  # how long each took
    assert not [b for b in at.button if b.key == f"adjudicate_reject_{agreed}"]  # settled by the rule: not here

    _click(at, f"adjudicate_label_{disputed}_1")  # the label "pests"
    assert f"Sample #{disputed} is accepted as 'pests'; 2 judgements overridden." in texts(at.success)
    assert adjudication_queue(team.lena, team.project) == []
    sample = next(s for s in iter_samples(team.lena, team.project) if s.id == disputed)
    assert (sample.status, sample.label) == ("accepted", "pests")
    assert "No sample waits for a decision" in texts(at.info)


def _judge_all(team: Team) -> None:
    """anna and ben judge all six: they agree on four, anna rejects one ben accepts, and they differ on a label."""
    assign(team.lena, team.project, ["anna", "ben"], overlap=2)
    ids = sorted(e.sample_id for e in my_queue(team.anna, team.project).entries)
    for number, sample_id in enumerate(ids):
        label = TEXTS[number][1]
        judge(team.anna, team.project, sample_id, "reject" if number == 1 else "label", label=label, seconds=3)
        other = "weather" if number == 3 else label
        judge(team.ben, team.project, sample_id, "label", label=other, seconds=5 + number)


def test_the_agreement_shows_core_figures_to_leads_and_owners(team: Team) -> None:
    _judge_all(team)
    report = agreement(team.lena, team.project)
    assert report.overall.alpha.value is not None
    # the figure core gives is krippendorff's, on the same judgements
    values = {"weather": 0, "pests": 1, "rejected": 2}
    ids = sorted(s.id for s in iter_samples(team.lena, team.project))
    data = np.full((2, len(ids)), np.nan)
    for column, sample_id in enumerate(ids):
        for row, name in enumerate(("anna", "ben")):
            [j] = [j for j in sample_judgements(team.lena, sample_id) if j.annotator == name]
            data[row, column] = values["rejected" if j.decision == "reject" else str(j.label)]
    expected = krippendorff.alpha(reliability_data=data, level_of_measurement="nominal")
    assert report.overall.alpha.value == pytest.approx(expected)

    at = _signed_in("lena", "team")
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Krippendorff's alpha (nominal)"] == shown(expected)
    assert metrics["Samples behind it"] == "6" and metrics["Annotator pairs"] == "1"
    [chart] = at.get("plotly_chart")
    heatmap = json.loads(chart.proto.spec)["data"][0]
    kappa = shown(report.overall.pairs[0].kappa.value)
    assert heatmap["x"] == heatmap["y"] == ["Anna (anna)", "Ben (ben)"]
    assert heatmap["text"] == [["", kappa], [kappa, ""]]
    tables = [d.value for d in at.dataframe]
    pairs = next(t for t in tables if "with" in t.columns)
    assert pairs.iloc[0]["kappa"] == pytest.approx(report.overall.pairs[0].kappa.value)
    assert int(pairs.iloc[0]["items"]) == 6
    languages = next(t for t in tables if "language" in t.columns)
    assert list(languages["language"]) == ["English (en)"]
    people = next(t for t in tables if "median seconds per sample" in t.columns)
    assert list(people["judgements"]) == [6, 6]
    assert list(people["median seconds per sample"]) == [3, 7.5]

    owner = _signed_in("olga", "team")
    assert not owner.metric  # the Agreement tab runs only while it is open
    owner.session_state[TEAM_TAB] = "Agreement"
    _ok(owner.run())
    assert {m.label: m.value for m in owner.metric}["Krippendorff's alpha (nominal)"] == shown(expected)

    annotator = _signed_in("anna", "team")
    assert not annotator.metric and not annotator.get("plotly_chart")
    assert "Agreement" not in texts(annotator.subheader)


def test_an_owner_sets_the_languages_each_annotator_judges(team: Team) -> None:
    at = _signed_in("olga", "team")
    for key, value in [("team_new_username", "dina"), ("team_new_pw", PASSWORD), ("team_new_pw2", PASSWORD)]:
        at.text_input(key=key).input(value)
    at.text_input(key="team_new_languages").input("sw, klingon")
    _click(at, "FormSubmitter:team_add_account-Add the account")
    assert "Unknown language code 'klingon'" in texts(at.error)
    assert "dina" not in account_languages_of(team.lena)  # a typo adds no account

    at.text_input(key="team_new_languages").input("SW, en")
    _click(at, "FormSubmitter:team_add_account-Add the account")
    assert "Added dina (dina) as annotator. They judge Swahili (sw), English (en)." in texts(at.success)
    assert account_languages_of(team.lena)["dina"] == ["sw", "en"]

    _ok(at.selectbox(key="team_pick").select("anna").run())
    assert at.text_input(key="team_languages_anna").value == "en"
    at.text_input(key="team_languages_anna").input("fr en")
    _click(at, "FormSubmitter:team_set_languages-Set the languages")
    assert "Anna (anna) judges: French (fr), English (en)." in texts(at.success)
    assert account_languages_of(team.lena)["anna"] == ["fr", "en"]


def test_a_lead_with_work_of_their_own_picks_their_queue_or_the_whole_project(team: Team) -> None:
    olga = Actor(team.store, "olga", "owner", team=True)
    set_account_languages(olga, "lena", ["en"])
    assign(team.lena, team.project, ["lena", "anna"], overlap=1)
    at = _signed_in("lena", "curate")
    assert "**My queue** · 0 of 3 judged" in texts(at.markdown)
    [view] = at.button_group
    assert view.value == "My queue"
    _ok(view.set_value("Every sample").run())
    assert "Sample 1 of 6 in this queue" in texts(at.caption)
    assert "My queue" not in texts(at.markdown)
