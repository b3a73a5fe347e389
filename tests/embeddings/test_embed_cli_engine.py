"""`embed --engine`: the CLI's embed command fills the cache of the engine it names (each engine has its own)."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.cli import main
from core.embeddings import service
from core.embeddings.encoders import load_encoder
from core.embeddings.service import cache_for
from core.store import Store
from core.store.sample_texts import distinct_texts
from tests.training_support import make_project


@pytest.mark.slow  # exports the tiny encoder to ONNX (seconds)
@pytest.mark.parametrize("store", ["sqlite"], indirect=True)
def test_embed_fills_the_cache_of_the_engine_it_names(
    store: Store, tiny_encoder: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    service._cache.cache_clear()
    load_encoder.cache_clear()
    project = make_project(store, tiny_encoder)
    texts = distinct_texts(store, project.id)
    assert main(["embed", "--project", project.name, "--engine", "onnx"]) == 0, capsys.readouterr().err
    assert "texts/s" in capsys.readouterr().out  # the job's progress, echoed
    assert len(cache_for(str(tiny_encoder), "query", "onnx")) == len(texts)
    assert len(cache_for(str(tiny_encoder), "query", "sentence-transformers")) == 0
    assert main(["embed", "--project", project.name]) == 0  # auto: sentence-transformers for a folder
    assert len(cache_for(str(tiny_encoder), "query", "sentence-transformers")) == len(texts)
    with pytest.raises(SystemExit):
        main(["embed", "--project", project.name, "--engine", "fastest"])
    assert "invalid choice: 'fastest'" in capsys.readouterr().err
