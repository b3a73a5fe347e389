"""A quick check of a Hugging Face text-classification model on the project's human test split: the model comes
through the one resolver (a folder on this machine or a hub id already downloaded), its `id2label` is read as the
project's labels (the same name in any capitals, or a label's name or alias in a project language), and every
model label must be mapped to a project label before it runs: an unmapped one is shown and refused until someone
maps it (on the Evaluate page, or with --map model_label=project_label). The run itself is a job (`model_check`)
with progress and cancel; its predictions are stored as an evaluation of source `model`."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from core.errors import InvalidInput
from core.evaluation.evaluations import Evaluation, save_evaluation
from core.evaluation.label_matching import CHOSEN, LabelMatcher, check_chosen, listed
from core.evaluation.metrics import Prediction
from core.evaluation.model_scores import count_test_samples, load_test_set
from core.evaluation.quickcheck import free_name
from core.models.resolver import ModelUnavailable, is_bundled, resolve_model
from core.store.database import Store
from core.store.projects import Project, get_project

if TYPE_CHECKING:
    from core.jobs.lifecycle import Launched
    from core.jobs.queue import Job

SOURCE = "model"
JOB_KIND = "model_check"
BATCH = 64
MAX_TOKENS = 512  # the longest input given to the model (its own limit when lower)
Progress = Callable[[float, str], None]


@dataclass(frozen=True)
class ModelLabels:
    spec: str
    folder: Path
    labels: list[str]  # id2label, in the order of the model's outputs


@dataclass(frozen=True)
class LabelMapping:
    """How each of the model's labels reads as a project label."""

    model_labels: list[str]
    links: dict[str, str]  # model label -> project label
    how: dict[str, str]  # model label -> how it was matched, or why not
    unmapped: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.unmapped

    def rows(self) -> list[dict[str, str]]:
        """One row per model label, for a table."""
        return [
            {"model label": label, "project label": self.links.get(label, ""), "how": self.how[label]}
            for label in self.model_labels
        ]

    def refusal(self, project: Project, *, on_page: bool = False) -> str:
        many = len(self.unmapped) > 1
        how = (
            f"Pick the project label {'each one' if many else 'it'} stands for above."
            if on_page
            else f"Say which project label {'each one' if many else 'it'} is, on the Evaluate page or with "
            f"--map model_label=project_label (e.g. --map {self.unmapped[0]}={project.label_names[0]})."
        )
        return (
            f"The model's label{'s' if many else ''} {listed(self.unmapped, 20)} match{'' if many else 'es'} none of "
            f"the project's labels ({listed(project.label_names, 20)}). {how}"
        )


def default_name(spec: str) -> str:
    """The model's name without the folders before it (a hub id keeps its organisation)."""
    spec = spec.strip().rstrip("/")
    path = Path(spec).expanduser()
    if path.is_dir() or spec.startswith(("/", ".", "~")):
        return path.name or spec
    return spec


def read_model_labels(spec: str) -> ModelLabels:
    """The model's folder and labels, from its config (the weights are not loaded). Raises ModelUnavailable or
    InvalidInput with what to do."""
    spec = spec.strip()
    if is_bundled(spec):
        raise InvalidInput(
            f"'{spec}' is the studio's sentence encoder, not a text classifier: name a text-classification model."
        )
    folder = resolve_model(spec, provision=False)
    config_file = folder / "config.json"
    try:
        config = json.loads(config_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise ModelUnavailable(f"The model '{spec}' has no readable config.json.") from None
    architectures = [str(a) for a in config.get("architectures") or []]
    id2label = config.get("id2label") or {}
    if (architectures and not any(a.endswith("ForSequenceClassification") for a in architectures)) or not id2label:
        kind = f" (it is a {architectures[0]})" if architectures else ""
        raise InvalidInput(
            f"'{spec}' is not a text-classification model{kind}: name one whose config has labels (id2label) and a "
            "sequence-classification head."
        )
    try:
        ordered = sorted(((int(k), str(v)) for k, v in id2label.items()), key=lambda item: item[0])
    except ValueError:
        raise InvalidInput(f"The labels of '{spec}' (id2label in its config.json) are not numbered 0, 1, 2…") from None
    if [i for i, _ in ordered] != list(range(len(ordered))):
        raise InvalidInput(f"The labels of '{spec}' (id2label in its config.json) are not numbered 0, 1, 2…")
    return ModelLabels(spec, folder, [label for _, label in ordered])


def map_model_labels(
    model_labels: list[str], project: Project, chosen: Mapping[str, str] | None = None
) -> LabelMapping:
    """Each model label read as a project label; `chosen` ({model label: project label}, someone's choice) wins."""
    matcher = LabelMatcher(project.labels)
    picked = check_chosen(chosen or {}, model_labels, matcher)
    links, how, unmapped = {}, {}, []
    for label in model_labels:
        if label in picked:
            links[label], how[label] = picked[label], CHOSEN
            continue
        match = matcher.match(label)
        how[label] = match.how
        if match.label is None:
            unmapped.append(label)
        else:
            links[label] = match.label
    return LabelMapping(list(model_labels), links, how, unmapped)


@dataclass(frozen=True)
class ModelCheckPlan:
    project: Project
    model: ModelLabels
    mapping: LabelMapping
    name: str
    test_samples: int


def plan_model_check(
    store: Store, project_ref: int | str, spec: str, chosen: Mapping[str, str] | None = None, name: str | None = None
) -> ModelCheckPlan:
    """Everything checked before a job is queued: the test split, the model, its labels, the name."""
    project = get_project(store, project_ref)
    test_samples = count_test_samples(store, project)
    if not test_samples:
        raise InvalidInput(
            f"The project '{project.name}' has no labelled human test samples to check a model on: import some on "
            "the Data page with the split set to test, or check a predictions file first."
        )
    model = read_model_labels(spec)
    mapping = map_model_labels(model.labels, project, chosen)
    if not mapping.ok:
        raise InvalidInput(mapping.refusal(project))
    name = " ".join((name or default_name(spec)).split())[:200]
    if not name:
        raise InvalidInput("Give the check a name.")
    free_name(store, project, name, SOURCE)
    return ModelCheckPlan(project, model, mapping, name, test_samples)


def submit_model_check(
    store: Store, project_ref: int | str, spec: str, chosen: Mapping[str, str] | None = None, name: str | None = None
) -> Job:
    """Queue the `model_check` job, to run here (core.jobs.lifecycle.run_here); refused before it is queued
    when a model label is unmapped or anything else is missing."""
    return launch_model_check(store, project_ref, spec, chosen, name, background=False).job


def launch_model_check(
    store: Store,
    project_ref: int | str,
    spec: str,
    chosen: Mapping[str, str] | None = None,
    name: str | None = None,
    *,
    background: bool = True,
) -> Launched[ModelCheckPlan]:
    """Launch the `model_check` job (heavy: it loads the model); refused before anything is queued when a model
    label is unmapped or anything else is missing."""
    from core.jobs.lifecycle import Launched, launch

    plan = plan_model_check(store, project_ref, spec, chosen, name)
    params = {"model": plan.model.spec, "map": plan.mapping.links, "name": plan.name}
    return Launched(
        plan, launch(store, JOB_KIND, params, project_id=plan.project.id, heavy=True, background=background)
    )


def check_model(
    store: Store,
    project_ref: int | str,
    spec: str,
    links: Mapping[str, str],
    name: str,
    *,
    progress: Progress | None = None,
) -> Evaluation:
    """Label every human test sample with the model and store the evaluation. `progress` may raise to stop (a
    job's progress does when its cancel flag is set)."""
    import numpy as np
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from core.embeddings.throughput import Throughput
    from core.models.quiet_loading import quiet_transformers
    from core.training.trainers.finetune_batches import collate, inference_batches, tokenize

    project = get_project(store, project_ref)
    model_labels = read_model_labels(spec)
    mapping = map_model_labels(model_labels.labels, project, links)
    if not mapping.ok:  # the model or the project changed since the job was queued
        raise InvalidInput(mapping.refusal(project))
    test = load_test_set(store, project)
    if not test.sample_ids:
        raise InvalidInput(f"The project '{project.name}' has no labelled human test samples to check a model on.")
    if progress:
        progress(0.0, f"Loading {model_labels.spec}")
    device = "cuda" if torch.cuda.is_available() else "cpu"
    with quiet_transformers():
        tokenizer = AutoTokenizer.from_pretrained(str(model_labels.folder))
        model = AutoModelForSequenceClassification.from_pretrained(str(model_labels.folder))
    model.to(device).eval()
    if model.config.num_labels != len(model_labels.labels):
        raise InvalidInput(
            f"The model '{spec}' has {model.config.num_labels} outputs but names {len(model_labels.labels)} labels."
        )
    limits = [
        MAX_TOKENS,
        getattr(tokenizer, "model_max_length", None),
        getattr(model.config, "max_position_embeddings", None),
    ]
    ids = tokenize(tokenizer, test.texts, "", min(int(n) for n in limits if n))
    best = np.zeros(len(ids), dtype=np.int64)
    confidence = np.zeros(len(ids), dtype=np.float64)
    speed = Throughput()
    with torch.inference_mode():
        for batch in inference_batches([len(x) for x in ids], BATCH):  # like lengths: little padding
            logits = model(**collate(tokenizer, [ids[i] for i in batch], device)).logits
            probabilities = torch.softmax(logits.double(), dim=-1)
            top, where = probabilities.max(dim=-1)
            best[batch], confidence[batch] = where.cpu().numpy(), top.cpu().numpy()
            speed.add(len(batch))
            if progress:
                progress(speed.done / len(ids), speed.labelled(len(ids), "test texts"))
    predictions = [
        Prediction(sample_id, language, truth, mapping.links[model_labels.labels[int(k)]], float(p))
        for sample_id, language, truth, k, p in zip(
            test.sample_ids, test.languages, test.labels, best, confidence, strict=True
        )
    ]
    return save_evaluation(store, project, name=name, source=SOURCE, predictions=predictions)
