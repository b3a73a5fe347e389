"""The Review tab's order (AppTest, the real app script and store): a queue of a scored flag offers "most doubtful
first" or the order of arrival, walks the samples highest score first with Next, Previous, a decision and its undo,
and shows why each one is there; a lead ranks the texts without a label by a finished run's doubt from the same tab,
and the queue "least sure first" opens when the job is done."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from core.front.actor import Actor
from core.front.queues import UNCERTAIN_KIND, ranked_step
from core.io.importer import ColumnMapping, execute_import, plan_import
from core.jobs.queue import list_jobs
from core.jobs.runner import run_job
from core.store import Store, open_store
from core.store.flags import NewFlag, replace_flags
from core.store.projects import Project, create_project, parse_spec
from core.store.samples import SampleFilter, get_sample, page_samples
from core.training.launch import TrainingRequest, start_training
from tests.page_text import texts
from tests.training.test_uncertainty_job import add_unlabeled_human_texts
from tests.training_support import make_project, single_torch_thread
from tests.ui.test_evaluate_page import wait_for_job

ROOT = Path(__file__).resolve().parents[2]
TEXTS = ["Mvua itanyesha kesho?", "Bei ya mahindi ni ngapi leo?", "Will it rain tomorrow?", "Maize costs more today"]
DOUBTS = {1: 0.4, 2: 0.9, 3: 0.4}  # position in TEXTS: score (a tie between the second and the fourth text)


def _project(store: Store) -> tuple[Project, list[int]]:
    spec = parse_spec(name="Farm SMS", labels=[{"name": "weather"}, {"name": "prices"}], languages=[{"code": "en"}])
    project = create_project(store, spec)
    frame = pd.DataFrame([(t, "weather") for t in TEXTS], columns=["text", "label"], dtype=object)
    mapping = ColumnMapping("text", "label", language="en", origin="synthetic", status="pending")
    execute_import(store, project, plan_import(store, project, frame, mapping, "sms.csv"))
    ids = [s.id for s in page_samples(store, project.id).samples]
    flags = [
        NewFlag(ids[p], "label_doubt", f"The other samples suggest “prices” ({score:.2f})", {}, score)
        for p, score in DOUBTS.items()
    ]
    replace_flags(store, project.id, ("label_doubt",), flags)
    return project, ids


def _review() -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.run()
    at.switch_page("pages/curate.py").run()
    assert not at.exception, at.exception
    return at


def _shown(at: AppTest) -> tuple[str, str]:
    """The text of the sample shown, and the queue's caption."""
    caption = next(str(c.value) for c in at.caption if str(c.value).startswith("Sample "))
    return next(t.value for t in at.text if t.value in TEXTS), caption


def test_a_queue_of_label_doubts_is_walked_most_doubtful_first(studio_home: Path) -> None:
    project, ids = _project(open_store())
    at = _review()
    assert not [r for r in at.radio if r.label == "Order"]  # no order to choose without a scored flag
    at.selectbox(key=f"review_{project.id}_flag").set_value("label_doubt").run()
    order = at.radio(key=f"review_{project.id}_order")
    assert list(order.options) == ["Most doubtful first", "In order of arrival"]
    assert order.value == "ranked"
    assert _shown(at) == (TEXTS[2], "Sample 1 of 3 in this queue, most doubtful first")
    assert "**Why it is here:** The other samples suggest “prices” (0.90)" in texts(at.markdown)

    at.button(key="review_next").click().run()
    assert _shown(at) == (TEXTS[1], "Sample 2 of 3 in this queue, most doubtful first")  # a tie: in id order
    at.button(key="review_reject").click().run()  # out of the pending queue: on to the next one
    assert get_sample(open_store(), ids[1]).status == "rejected"
    assert _shown(at) == (TEXTS[3], "Sample 2 of 2 in this queue, most doubtful first")
    at.button(key="review_previous").click().run()
    assert _shown(at)[0] == TEXTS[2]
    at.button(key="review_next").click().run()
    at.button(key="review_undo").click().run()  # the rejected sample again, at its place in the order
    assert not at.exception, at.exception
    assert get_sample(open_store(), ids[1]).status == "pending"
    assert _shown(at) == (TEXTS[1], "Sample 2 of 3 in this queue, most doubtful first")

    at.radio(key=f"review_{project.id}_order").set_value("arrival").run()
    assert _shown(at) == (TEXTS[1], "Sample 1 of 3 in this queue")  # in id order, from the first
    at.selectbox(key=f"review_{project.id}_flag").set_value("").run()
    assert not [r for r in at.radio if r.label == "Order"]


@pytest.mark.slow
def test_a_lead_ranks_the_texts_to_label_and_the_queue_least_sure_first_opens(
    studio_home: Path, tiny_encoder: Path
) -> None:
    store = open_store()
    project = make_project(store, tiny_encoder)
    added = add_unlabeled_human_texts(store, project.id)
    at = _review()
    assert "Train a model first" in texts(at.info)  # no finished run yet
    with single_torch_thread():
        _, job = start_training(store, project.id, TrainingRequest(name="probe", trainer="linear"))
        assert run_job(store, job.id) == "done"
    at = _review()
    assert at.selectbox(key=f"doubt_ranking_{project.id}_run").value == "probe"
    assert at.multiselect(key=f"doubt_ranking_{project.id}_languages").options  # the languages with texts to rank
    at.button(key=f"doubt_ranking_{project.id}_start").click().run()
    assert not at.exception, at.exception
    [ranking] = list_jobs(store, project.id, kind="rank_uncertain")
    wait_for_job(at, ranking.id, seconds=180)

    assert at.selectbox(key=f"review_{project.id}_queue").value == "To label (no label yet)"
    assert at.selectbox(key=f"review_{project.id}_flag").value == UNCERTAIN_KIND
    assert at.radio(key=f"review_{project.id}_order").value == "ranked"
    flt = SampleFilter(statuses=("unlabeled",), flags=(UNCERTAIN_KIND,))
    first = ranked_step(Actor.of(store), project, flt, None)
    assert first.sample is not None and first.total == added
    caption = f"Sample 1 of {added} in this queue, least sure first"
    assert caption in texts(at.caption) and first.sample.text in [t.value for t in at.text]
    assert "**Why it is here:** The model is torn" in texts(at.markdown)
