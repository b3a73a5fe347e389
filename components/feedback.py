"""Turning errors into short messages: a person never sees a Python traceback."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Iterator
from contextlib import contextmanager

import streamlit as st

from components.safe_text import alert, md
from core.errors import EditConflict, StudioError
from core.front.settings import redact
from core.settings import get_settings


def _studio_logger() -> logging.Logger:
    logger = logging.getLogger("studio.ui")
    if not logger.handlers:
        settings = get_settings()
        handler = logging.FileHandler(settings.logs_dir / "studio.log", encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
    return logger


@contextmanager
def friendly_errors(what: str = "That") -> Iterator[None]:
    """Show StudioError messages as they are; anything else as one line, with the details in the studio log."""
    try:
        yield
    except EditConflict as exc:
        st.warning(md(exc), icon=":material/sync_problem:")
    except StudioError as exc:
        st.error(md(exc), icon=":material/error:")
    except Exception as exc:
        _studio_logger().error(redact(traceback.format_exc()))
        first_line = redact(str(exc)).splitlines()[0] if str(exc) else ""
        st.error(
            md(
                f"{what} did not work: {type(exc).__name__}: {first_line}. "
                f"Details are in {get_settings().logs_dir / 'studio.log'}."
            ),
            icon=":material/error:",
        )


def flash(message: str, kind: str = "success") -> None:
    """A plain-text message (it may quote user text: it is shown as text) that survives the next rerun (shown once
    by `show_flash`)."""
    st.session_state.setdefault("_flash", []).append((kind, message))


def show_flash() -> None:
    for kind, message in st.session_state.pop("_flash", []):
        alert(kind)(md(message))
