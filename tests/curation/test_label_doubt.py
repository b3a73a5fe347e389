"""label_doubt (issue 21): planted label swaps are found, with the label the other samples suggest; samples judged
only by models that never saw them; labels too small to judge are left alone."""

from __future__ import annotations

import numpy as np

from core.curation.label_doubt import MIN_PER_LABEL, find_label_doubts, out_of_fold_probabilities

LABELS = ("sports", "travel", "health", "money", "weather", "music")


def clustered(per_label: int, seed: int, spread: float = 0.35) -> tuple[list[str], np.ndarray]:
    """Normalised 64-d vectors around one centre per label (the shape sentence vectors of a topic task have)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(len(LABELS), 64))
    labels, rows = [], []
    for index, label in enumerate(LABELS):
        for _ in range(per_label):
            labels.append(label)
            rows.append(centres[index] + spread * rng.normal(size=64) * np.linalg.norm(centres[index]) / 8)
    vectors = np.asarray(rows, dtype=np.float32)
    return labels, vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def test_planted_label_swaps_are_found_with_the_label_they_came_from() -> None:
    labels, vectors = clustered(per_label=80, seed=1)
    rng = np.random.default_rng(7)
    swapped = sorted(rng.choice(len(labels), 24, replace=False).tolist())
    given = list(labels)
    for position in swapped:
        given[position] = LABELS[(LABELS.index(labels[position]) + 1 + int(rng.integers(5))) % len(LABELS)]
        assert given[position] != labels[position]

    doubts = find_label_doubts(given, vectors, seed=0)

    found = {d.position for d in doubts}
    assert len(found & set(swapped)) >= 0.9 * len(swapped)  # recall
    assert len(found & set(swapped)) >= 0.8 * len(found)  # precision
    for doubt in doubts:
        if doubt.position in swapped:
            assert doubt.given == given[doubt.position] and doubt.suggested == labels[doubt.position]
        assert doubt.suggested_probability > doubt.given_probability
    assert [d.given_probability for d in doubts] == sorted(d.given_probability for d in doubts)  # most doubtful first
    first = doubts[0]
    assert first.reason() == (
        f"The other samples suggest “{first.suggested}” ({first.suggested_probability:.2f}) for this "
        f"“{first.given}” sample."
    )


def test_clean_labels_raise_next_to_no_doubt() -> None:
    labels, vectors = clustered(per_label=80, seed=2)
    assert len(find_label_doubts(labels, vectors)) <= 0.01 * len(labels)


def test_each_sample_is_judged_by_a_model_that_never_saw_it() -> None:
    # every vector is unique noise: a model that saw a sample would recall its label; one that did not is guessing
    rng = np.random.default_rng(3)
    vectors = rng.normal(size=(300, 256)).astype(np.float32)
    targets = np.arange(300) % 3
    proba = out_of_fold_probabilities(vectors, targets, 3)
    assert np.allclose(proba.sum(axis=1), 1.0)
    hits = (proba.argmax(axis=1) == targets).mean()
    assert hits < 0.5  # chance is 1/3; seen samples would be recalled near 1.0


def test_labels_too_small_to_judge_are_neither_judged_nor_suggested() -> None:
    labels, vectors = clustered(per_label=60, seed=4)
    labels[:2] = ["rare", "rare"]  # two samples of a label
    assert MIN_PER_LABEL > 2
    doubts = find_label_doubts(labels, vectors)
    assert all(d.position >= 2 and "rare" not in (d.given, d.suggested) for d in doubts)
    assert find_label_doubts(["a"] * 10, vectors[:10]) == []  # one label: nothing to compare with


def test_the_checks_flag_train_samples_only_with_the_suggested_label() -> None:
    from core.curation.duplicate_flags import Findings
    from core.curation.label_doubt import find_label_doubt_flags
    from core.store.sample_texts import SampleItem

    labels, vectors = clustered(per_label=40, seed=5)
    swapped = {7: "travel", 90: "money"}  # a sports and a health sample relabelled
    items = [
        SampleItem(
            id=1000 + p,
            text=f"text {p}",
            label=swapped.get(p, label),
            language="de",
            split="test" if p % 10 == 9 else "train",
            origin="synthetic",
            status="pending",
        )
        for p, label in enumerate(labels)
    ]
    findings = Findings()
    flagged = find_label_doubt_flags(items, vectors, findings)
    assert flagged == findings.count("label_doubt") >= 2
    by_sample = {f["sample_id"]: f for f in findings.flags}
    assert by_sample[1007]["details"]["suggested"] == "sports" and by_sample[1090]["details"]["suggested"] == "health"
    assert "“sports”" in by_sample[1007]["reason"] and "“travel” sample" in by_sample[1007]["reason"]
    assert all(items[f["sample_id"] - 1000].split == "train" for f in findings.flags)
    assert sorted(f["details"]["rank"] for f in findings.flags) == list(range(flagged))


def test_labels_the_vectors_do_not_show_raise_no_doubt() -> None:
    rng = np.random.default_rng(6)
    vectors = rng.normal(size=(1_200, 64)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    labels = [LABELS[i] for i in rng.integers(0, len(LABELS), 1_200)]  # nothing to learn: every label is noise
    assert len(find_label_doubts(labels, vectors)) <= 0.01 * len(labels)
