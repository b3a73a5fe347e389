"""API keys and other secrets: read from the environment or `.streamlit/secrets.toml`, never stored.

Secrets reach a worker process through its environment only. Nothing here writes them anywhere; `redact`
removes any known secret value from text before it goes to a log or a message.
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path

SECRET_NAME = re.compile(r"(KEY|TOKEN|SECRET|PASSWORD|PASSWD)$", re.IGNORECASE)
SECRET_PARAM_NAMES = re.compile(r"(api_?key|token|secret|password|passwd)", re.IGNORECASE)
_MIN_SECRET_LENGTH = 6


def secrets_file_paths() -> list[Path]:
    return [Path.cwd() / ".streamlit" / "secrets.toml", Path.home() / ".streamlit" / "secrets.toml"]


def _from_secrets_toml(name: str) -> str | None:
    for path in secrets_file_paths():
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError):
            continue
        value = data.get(name)
        if isinstance(value, str) and value:
            return value
    return None


def get_secret(name: str) -> str | None:
    """The environment first, then `.streamlit/secrets.toml` (project folder, then home)."""
    return os.environ.get(name) or _from_secrets_toml(name)


def known_secret_values() -> list[str]:
    values = [v for k, v in os.environ.items() if SECRET_NAME.search(k) and len(v) >= _MIN_SECRET_LENGTH]
    return sorted(set(values), key=len, reverse=True)


def redact(text: str, extra: list[str] | None = None) -> str:
    for value in [*(extra or []), *known_secret_values()]:
        if value and len(value) >= _MIN_SECRET_LENGTH:
            text = text.replace(value, "[secret]")
    return text


def secret_param_names(params: dict) -> list[str]:
    """Names in a job's parameters that look like secrets (they must travel by environment instead)."""
    found = []
    for key, value in params.items():
        if SECRET_PARAM_NAMES.search(str(key)) and value not in (None, "", False):
            found.append(str(key))
        if isinstance(value, dict):
            found.extend(f"{key}.{inner}" for inner in secret_param_names(value))
    return found
