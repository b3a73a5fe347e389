"""The one place that knows where model weights come from: a hub id, a local folder, or the bundled encoder.

Everything else asks `resolve_model(spec)` for a local folder and never looks further.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from core.errors import StudioError
from core.settings import get_settings

logger = logging.getLogger(__name__)

Progress = Callable[[float, str], None]
BUNDLED_PREFIX = "bundled:"
BUNDLED_MODELS = {"bundled:multilingual-e5-small": "multilingual-e5-small"}
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")


class ModelUnavailable(StudioError):
    pass


@dataclass(frozen=True)
class ProvisionedModel:
    spec: str
    path: Path
    size_bytes: int
    kind: str  # bundled | folder | hub-cache


def is_bundled(spec: str) -> bool:
    return spec.strip().startswith(BUNDLED_PREFIX)


def bundled_folder(spec: str) -> Path:
    name = BUNDLED_MODELS.get(spec.strip())
    if name is None:
        known = ", ".join(BUNDLED_MODELS)
        raise ModelUnavailable(f"There is no bundled model called '{spec}'. Bundled models: {known}.")
    return get_settings().models_dir / name


def resolve_model(spec: str, *, progress: Progress | None = None, provision: bool = True) -> Path:
    """A local folder for `spec`: provisions the bundled encoder on first use, reads hub ids from the cache.

    Raises ModelUnavailable with a message that says what to do.
    """
    spec = spec.strip()
    if not spec:
        raise ModelUnavailable("No model was named.")
    if is_bundled(spec):
        folder = bundled_folder(spec)
        if (folder / "studio_model.json").exists():
            return folder
        if not provision:
            raise ModelUnavailable(
                f"The bundled model '{spec}' is not provisioned yet: run `python -m core models provision {spec}`."
            )
        from core.models.bundled_encoder import provision_bundled_encoder

        return provision_bundled_encoder(folder, progress)
    path = Path(spec).expanduser()
    if path.is_dir():
        if not (path / "config.json").exists() and not (path / "modules.json").exists():
            raise ModelUnavailable(
                f"The folder '{path}' does not look like a model (no config.json or modules.json in it)."
            )
        return path.resolve()
    if spec.startswith(("/", ".", "~")) or os.sep in spec.strip("/").replace("/", "", 1):
        raise ModelUnavailable(f"There is no model folder at '{spec}'.")
    if not _HUB_ID.match(spec):
        raise ModelUnavailable(f"'{spec}' is neither a model folder on this machine nor a model id like 'org/name'.")
    return _from_hub(spec, progress)


def _from_hub(repo_id: str, progress: Progress | None) -> Path:
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(repo_id, local_files_only=True))
    except Exception:  # not in the local cache (the usual case for a new model): download it
        logger.debug("%s is not in the local Hugging Face cache", repo_id, exc_info=True)
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in {"1", "true", "yes"}:
        raise ModelUnavailable(_not_here(repo_id, "this machine is set to work offline (HF_HUB_OFFLINE)"))
    if progress:
        progress(0.0, f"Downloading {repo_id}…")
    try:
        folder = Path(snapshot_download(repo_id, etag_timeout=10))
    except Exception as exc:
        raise ModelUnavailable(_not_here(repo_id, f"it could not be downloaded ({type(exc).__name__})")) from None
    if progress:
        progress(1.0, f"Downloaded {repo_id}")
    return folder


def _not_here(repo_id: str, why: str) -> str:
    return (
        f"The model '{repo_id}' is not on this machine and {why}. Copy the model's folder to this machine "
        f"(e.g. with `huggingface-cli download {repo_id}` where there is network) and give its path instead, "
        "or use the bundled offline encoder bundled:multilingual-e5-small."
    )


def folder_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def list_provisioned() -> list[ProvisionedModel]:
    """Bundled models provisioned in the data folder, and models in the Hugging Face cache."""
    found = []
    for spec in BUNDLED_MODELS:
        folder = bundled_folder(spec)
        if (folder / "studio_model.json").exists():
            found.append(ProvisionedModel(spec, folder, folder_size(folder), "bundled"))
    try:
        from huggingface_hub import scan_cache_dir

        for repo in scan_cache_dir().repos:
            if repo.repo_type == "model":
                found.append(ProvisionedModel(repo.repo_id, Path(repo.repo_path), repo.size_on_disk, "hub-cache"))
    except Exception:  # no cache folder yet (the usual case on a new machine) or one that cannot be read
        logger.debug("the Hugging Face cache could not be scanned", exc_info=True)
    return found


def model_fingerprint(spec: str, folder: Path) -> str:
    """Identifies the exact weights behind a spec: caches and thresholds are keyed by it."""
    digest = hashlib.sha1(spec.strip().encode())
    for name in ("config.json", "tokenizer.json", "modules.json", "studio_model.json"):
        file = folder / name
        if file.exists():
            digest.update(name.encode() + file.read_bytes())
    for weights in sorted(folder.glob("*.safetensors")) + sorted(folder.glob("*.bin")):
        digest.update(f"{weights.name}:{weights.stat().st_size}".encode())
    return digest.hexdigest()[:16]
