"""Showing user and LLM text as text: never as Markdown, never as HTML, on every page.

Sample texts, raw LLM answers, label names and descriptions, project, run and template names, user names and any
message that quotes them are data. Streamlit renders Markdown in `st.markdown`, `st.caption`, alerts, titles, widget
labels, tabs, expanders and `st.table` cells, and plotly renders a subset of HTML in every string of a figure. So:

- a text on its own: `show_text(text)` (`st.text`: no Markdown at all);
- a text inside a sentence drawn as Markdown (a caption, an alert, a widget label): `md(text)`, which escapes every
  Markdown construct (links, images, emphasis, `$maths$`, HTML, `:shortcodes:`), or `say(...)` for a whole message;
- a text inside a plotly figure (tick labels, hover text, legend names): `plot_text(text)`;
- tables: `st.dataframe` (its cells are drawn as plain text; never `st.table`, whose cells are Markdown).
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable

import streamlit as st

_ASCII_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")  # CommonMark escapes every ASCII punctuation character
# Some plugins work on the text that is left AFTER the escapes are read: emoji and icon shortcodes (`:name:`) and
# GFM's bare links (`http://…`, `www.…`, `name@host.tld`). A word joiner (U+2060, invisible) in the right place
# keeps such a run of characters from being recognised.
_AFTER_ESCAPES = re.compile(r"(?<=:)(?=[\w+\-/]+:)|(?<=:)(?=//)|(?<=www)(?=\.)|(?<=@)(?=[\w-])", re.IGNORECASE)
WORD_JOINER = "\u2060"


def md(text: object) -> str:
    """`text` escaped for any place Streamlit draws as Markdown: it shows literally, character for character (with
    invisible word joiners where a shortcode or a bare link would otherwise be recognised)."""
    value = _AFTER_ESCAPES.sub(WORD_JOINER, str(text))
    value = _ASCII_PUNCTUATION.sub(r"\\\1", value)
    return value.replace("\n", "  \n")  # keep line breaks as breaks (Markdown would join the lines)


def say(template: str, *values: object) -> str:
    """A Markdown sentence of ours with user or LLM values put in escaped: `say("Label **{}** renamed", name)`."""
    return template.format(*(md(v) for v in values))


def plot_text(text: object) -> str:
    """`text` for a plotly figure: plotly reads `<a href>`, `<b>`, `<br>` and entities in every string it draws."""
    return html.escape(str(text), quote=False)


def show_text(text: str, *, size: str = "normal") -> None:
    """A user or LLM text on its own, as plain text (line breaks and spaces kept); `size="large"` for the text a
    reviewer judges."""
    if size == "large":
        with st.container(key=f"studio_large_text_{abs(hash(text)) % 10**12}"):
            _large_text_style()
            st.text(text)
    else:
        st.text(text)


def _large_text_style() -> None:
    st.html(
        "<style>[class*='st-key-studio_large_text_'] [data-testid='stText']"
        "{font-size:1.3rem;line-height:1.5;font-weight:500}</style>"
    )


def alert(kind: str) -> Callable[..., object]:
    """The Streamlit alert for a kind of message (success, info, warning, error)."""
    return {"success": st.success, "info": st.info, "warning": st.warning, "error": st.error}[kind]
