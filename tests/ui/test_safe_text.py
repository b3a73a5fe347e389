"""The helper every page uses to show user and LLM text (components/safe_text.py); the browser test
(test_browser_text_safety.py) shows what a real browser makes of it."""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest

from components.safe_text import md, plot_text, say
from tests.page_text import shown

ROOT = Path(__file__).resolve().parents[2]
HOSTILE = [
    "![x](http://host/t.png)",
    "[phish](http://evil)",
    "$x^2$ and $$y$$",
    "<b>bold</b><script>alert(1)</script>",
    "**strong** _em_ `code` ~~gone~~",
    "# heading\n- item\n1. item\n> quote",
    ":smile: :material/check: :red[text]",
    "http://bare.example/x www.bare.example me@example.org",
    "&amp; &lt; \\ backslash | pipe",
    "10:30:45 a:b:c",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_md_escapes_every_markdown_construct_and_reads_back_as_written(text: str) -> None:
    escaped = md(text)
    assert shown(escaped) == text
    position = 0
    while position < len(escaped):  # every ASCII punctuation mark is escaped with a backslash
        char = escaped[position]
        if char == "\\":
            assert escaped[position + 1] in string.punctuation, escaped
            position += 2
            continue
        assert char not in string.punctuation, f"unescaped {char!r} in {escaped!r}"
        position += 1
    # what plugins read after the escapes: no shortcode, no bare link is left to recognise
    unescaped = re.sub(r"\\(.)", r"\1", escaped)
    assert not re.search(r"https?://|www\.|:[\w+\-/]+:|\w@\w", unescaped), unescaped


def test_say_escapes_the_values_not_the_sentence() -> None:
    assert say("Label **{}** renamed to {}", "a*b", "<i>c</i>") == "Label **a\\*b** renamed to \\<i\\>c\\<\\/i\\>"


def test_plot_text_escapes_plotly_html() -> None:
    assert plot_text('<a href="http://evil">x</a> & <br>') == '&lt;a href="http://evil"&gt;x&lt;/a&gt; &amp; &lt;br&gt;'


def test_no_page_lets_streamlit_draw_raw_html() -> None:
    sources = [*ROOT.glob("pages/*.py"), *ROOT.glob("components/*.py"), ROOT / "app.py"]
    offenders = [p.name for p in sources if "unsafe_allow_html" in p.read_text(encoding="utf-8")]
    assert offenders == []
