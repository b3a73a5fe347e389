"""Why `components.studio_state.run_inside_app` sets Streamlit's private `PagesManager.uses_pages_directory`.

The product's layout puts the page scripts in `pages/` beside `app.py`. A Streamlit server process starts in its
legacy pages-folder mode whenever such a folder exists, and leaves it only once some session has executed
`st.navigation` ("As soon as any session of your app executes the st.navigation command, your app will ignore the
pages/ directory", Streamlit's docs). So on a fresh server whose first visitor follows a deep link (/curate), the
page script runs on its own, without `app.py`: no project switcher, Streamlit's own page list. No public option
turns that mode off (its only other way out is a folder not called `pages/`), so the page flips the flag and runs
again through `app.py`. AppTest starts each run the way a fresh server does (the flag reset), so these tests show it
without a browser; tests/browser/test_browser.py walks the same deep link in a real browser.

If the first test below fails, Streamlit no longer needs the workaround: remove the flag from `run_inside_app`. If
the second fails, Streamlit renamed or changed the flag: the deep link lands outside `app.py` again.
"""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from core.store import open_store
from core.store.projects import create_project, parse_spec

ROOT = Path(__file__).resolve().parents[2]

_ENTRY = """
import streamlit as st

st.session_state["entry_runs"] = st.session_state.get("entry_runs", 0) + 1
navigation = st.navigation([st.Page("pages/home.py", default=True), st.Page("pages/deep.py")])
st.text("frame from the entry script")
navigation.run()
"""


def _tiny_app(folder: Path, *, inside_app: bool) -> Path:
    """An app laid out like the studio: an entry script with st.navigation and its pages in `pages/`."""
    (folder / "pages").mkdir(parents=True)
    (folder / "app.py").write_text(_ENTRY)
    (folder / "pages" / "home.py").write_text('import streamlit as st\n\nst.text("home page")\n')
    opening = "from components.studio_state import run_inside_app\n\nrun_inside_app()\n" if inside_app else ""
    (folder / "pages" / "deep.py").write_text(f'import streamlit as st\n{opening}\nst.text("deep page")\n')
    return folder / "app.py"


def _first_visit(entry: Path, page: str) -> AppTest:
    """A fresh server's first request, a deep link to `page`."""
    at = AppTest.from_file(str(entry), default_timeout=60)
    at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


def test_streamlit_runs_a_first_deep_link_without_the_entry_script(tmp_path: Path) -> None:
    at = _first_visit(_tiny_app(tmp_path / "plain", inside_app=False), "pages/deep.py")
    assert [t.value for t in at.text] == ["deep page"]  # the legacy mode ran the page on its own
    assert "entry_runs" not in at.session_state


def test_run_inside_app_sends_a_first_deep_link_through_the_entry_script(tmp_path: Path) -> None:
    at = _first_visit(_tiny_app(tmp_path / "fixed", inside_app=True), "pages/deep.py")
    assert [t.value for t in at.text] == ["frame from the entry script", "deep page"]
    assert at.session_state["entry_runs"] == 1


def test_a_first_deep_link_into_the_studio_runs_app_py(studio_home: Path) -> None:
    spec = parse_spec(
        name="Reviews",
        task="Positive or negative?",
        labels=[{"name": "good"}, {"name": "bad"}],
        languages=[{"code": "en"}],
    )
    project = create_project(open_store(), spec)
    at = _first_visit(ROOT / "app.py", "pages/curate.py")
    assert at.session_state["_project_picker"] == project.id  # set by app.py's project switcher, and only there
    assert [t.value for t in at.title] == ["Curate"]
