"""Page tests with Streamlit's AppTest: the real app script, the real store, no browser."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.settings import get_settings
from core.store import open_store
from core.store.projects import create_project, get_project, list_projects, parse_spec
from core.store.samples import SampleFilter, count_samples
from tests.page_text import shown, texts

ROOT = Path(__file__).resolve().parents[2]


def _app() -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.run()
    assert not at.exception, at.exception
    return at


def _texts(elements) -> str:  # type: ignore[no-untyped-def]
    return texts(elements)


def _make_project(name: str = "Reviews") -> int:
    store = open_store()
    spec = parse_spec(
        name=name,
        task="Is the review positive or negative?",
        labels=[{"name": "positive"}, {"name": "negative"}],
        languages=[{"code": "en"}, {"code": "sw"}],
    )
    return create_project(store, spec).id


def test_projects_page_empty_state_then_create(studio_home: Path) -> None:
    at = _app()
    assert "There is no project yet" in _texts(at.info)
    at.text_input[0].input("Market SMS")
    at.text_area[0].input("Classify farmers' messages.")
    at.multiselect[0].select("en").select("sw")
    at.text_area[1].input("weather: rain and forecasts\nprices: market prices")
    at.button(key="FormSubmitter:new_project-Create project").click().run()
    assert not at.exception
    projects = list_projects(open_store())
    assert [p.name for p in projects] == ["Market SMS"]
    assert projects[0].label_names == ["weather", "prices"]
    assert projects[0].labels[0].description == "rain and forecasts"
    assert projects[0].language_codes == ["en", "sw"]
    assert "created" in _texts(at.success)
    assert at.session_state["project_id"] == projects[0].id
    # (AppTest drops the entry script's sidebar after the first rerun under st.navigation: the browser test
    # checks the switcher itself)


def test_projects_page_refuses_a_project_without_labels(studio_home: Path) -> None:
    at = _app()
    at.text_input[0].input("No labels")
    at.multiselect[0].select("en")
    at.button(key="FormSubmitter:new_project-Create project").click().run()
    assert not at.exception
    assert "at least one label" in _texts(at.error)
    assert list_projects(open_store()) == []


def test_projects_page_edits_task_and_name(studio_home: Path) -> None:
    project_id = _make_project()
    at = _app()
    assert at.text_input[0].value == "Reviews"
    at.text_input[0].input("Reviews v2")
    at.text_area[0].input("Sentiment of product reviews.")
    at.button(key="FormSubmitter:edit_project-Save changes").click().run()
    assert not at.exception
    project = get_project(open_store(), project_id)
    assert (project.name, project.task) == ("Reviews v2", "Sentiment of product reviews.")
    assert project.label_names == ["positive", "negative"]


def test_demo_is_created_on_first_start(studio_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STUDIO_DEMO", "1")
    from core.settings import reset_settings

    reset_settings()
    at = _app()
    projects = list_projects(open_store())
    assert len(projects) == 1 and "demo" in projects[0].name.lower()
    assert at.metric[0].value == f"{count_samples(open_store(), projects[0].id):,}"


def test_data_page_without_project_says_what_to_do(studio_home: Path) -> None:
    at = _app()
    at.switch_page("pages/data.py").run()
    assert not at.exception
    assert "Create a project first" in _texts(at.info)


CSV = "text,label,lang\nnice phone,positive,en\nsimu mbaya,negative,sw\n,positive,en\nbad battery,negative,en\n"


def test_data_page_upload_map_preview_and_import(studio_home: Path) -> None:
    project_id = _make_project()
    at = _app()
    at.switch_page("pages/data.py").run()
    assert "No samples yet" in _texts(at.info)
    at.file_uploader[0].upload("reviews.csv", CSV.encode(), "text/csv").run()
    assert not at.exception
    # the guess: text column 'text', label column 'label', languages from the 'lang' column
    assert at.radio[0].value == "a column with language codes"
    assert next(s for s in at.selectbox if s.label == "Language column").value == "lang"
    assert next(s for s in at.selectbox if s.label == "Label column").value == "label"
    assert "empty or missing text" in _texts(at.warning)
    assert [m.value for m in at.metric][:3] == ["4", "3", "1"]
    import_button = next(b for b in at.button if b.label.startswith("Import "))
    assert import_button.label == "Import 3 samples"
    import_button.click().run()
    assert not at.exception
    store = open_store()
    assert count_samples(store, project_id) == 3
    assert count_samples(store, project_id, SampleFilter(languages=("sw",))) == 1
    assert "Imported 3 samples" in _texts(at.success)


def test_data_page_refuses_unknown_labels_and_stores_nothing(studio_home: Path) -> None:
    project_id = _make_project()
    at = _app()
    at.switch_page("pages/data.py").run()
    at.file_uploader[0].upload("x.csv", b"text,label\nhello,neutral\nbye,positive\n", "text/csv").run()
    assert "the label 'neutral' is not in the project" in _texts(at.error).lower()
    import_button = next(b for b in at.button if b.label.startswith("Import "))
    assert import_button.disabled
    assert count_samples(open_store(), project_id) == 0


def test_data_page_explains_a_file_that_is_not_utf8(studio_home: Path) -> None:
    _make_project()
    at = _app()
    at.switch_page("pages/data.py").run()
    at.file_uploader[0].upload("latin.csv", "text,label\ncafé,positive\n".encode("latin-1"), "text/csv").run()
    assert not at.exception
    assert "not UTF-8" in _texts(at.error)


def test_data_page_filters_and_pages_in_the_database(studio_home: Path) -> None:
    project_id = _make_project()
    store = open_store()
    rows = "\n".join(
        f"review number {i},{'positive' if i % 2 else 'negative'},{'en' if i % 3 else 'sw'}" for i in range(130)
    )
    path = get_settings().uploads_dir / "many.csv"
    path.write_text("text,label,lang\n" + rows + "\n", encoding="utf-8")
    from core.io.importer import ColumnMapping, import_file

    import_file(store, project_id, path, ColumnMapping("text", "label", language_column="lang"))
    at = _app()
    at.switch_page("pages/data.py").run()
    assert "of **130**" in _texts(at.markdown)
    assert len(at.dataframe[0].value) == 50
    next(b for b in at.button if b.label == "Next →").click().run()
    assert "Samples **51–100**" in _texts(at.markdown)
    at.multiselect(key=f"browse_{project_id}_lang").select("sw").run()
    expected = count_samples(store, project_id, SampleFilter(languages=("sw",)))
    assert f"of **{expected}**" in _texts(at.markdown)
    assert "page 1 of" in _texts(at.markdown)
    at.text_input(key=f"browse_{project_id}_search").input("number 12").run()
    shown = at.dataframe[0].value
    assert set(shown["language"]) == {"sw"} and all("number 12" in t for t in shown["text"])


@pytest.mark.slow
def test_jobs_page_runs_a_test_job_in_a_worker_and_shows_its_progress(studio_home: Path) -> None:
    import time

    from core.jobs.queue import list_jobs

    at = _app()
    at.switch_page("pages/jobs.py").run()
    assert "No jobs yet" in _texts(at.info)
    at.number_input[0].set_value(2)
    next(b for b in at.button if b.label == "Start test job").click().run()
    assert not at.exception
    [job] = list_jobs(open_store())
    assert job.kind == "wait" and job.worker_pid is not None
    deadline = time.monotonic() + 60
    seen_progress = False
    while time.monotonic() < deadline:
        at.run()  # run_every fragments do not tick by themselves in AppTest
        seen_progress = seen_progress or any(0 < p.value < 100 for p in at.get("progress"))
        if list_jobs(open_store())[0].status == "done":
            break
        time.sleep(0.3)
    at.run()
    final = list_jobs(open_store())[0]
    assert final.status == "done", (final.message, Path(final.log_path).read_text())
    assert seen_progress
    assert "Waited 2 s in 2 steps" in _texts(at.success)
    assert "step 2/2" in _texts(at.code)


def test_settings_page_changes_the_project_encoder_to_a_local_folder(studio_home: Path, tiny_encoder: Path) -> None:
    project_id = _make_project()
    at = _app()
    at.switch_page("pages/settings.py").run()
    assert not at.exception
    assert "No model is provisioned yet" in _texts(at.info)
    encoder = next(s for s in at.selectbox if s.label == "Encoder")
    assert encoder.value == get_settings().default_encoder
    encoder.set_value("another model: a hub id or a folder on this machine…").run()
    next(t for t in at.text_input if t.label == "Hub id or folder").input(str(tiny_encoder)).run()
    next(b for b in at.button if b.label == "Use this encoder").click().run()
    assert not at.exception
    assert get_project(open_store(), project_id).encoder == str(tiny_encoder)
    assert "now uses" in _texts(at.success)


def _demo_app(monkeypatch: pytest.MonkeyPatch) -> AppTest:
    from core.settings import reset_settings

    monkeypatch.setenv("STUDIO_DEMO", "1")
    reset_settings()
    return _app()


def test_prompts_page_previews_validates_and_saves_a_new_version(
    studio_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from core.generation.prompt_library import template_versions

    at = _demo_app(monkeypatch)
    at.switch_page("pages/prompts.py").run()
    assert not at.exception
    preview = " ".join(c.value for c in at.code)
    assert "English" in preview and "weather" in preview
    user = next(t for t in at.text_area if t.label == "User message")
    user.input(user.value + "\n{{ lable }}").run()
    assert "did you mean 'label'" in _texts(at.error)
    assert next(b for b in at.button if b.label == "Save as a new version").disabled
    user = next(t for t in at.text_area if t.label == "User message")
    user.input(user.value.replace("\n{{ lable }}", "\nKeep every text under 20 words.")).run()
    next(b for b in at.button if b.label == "Save as a new version").click().run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    project = list_projects(open_store())[0]
    [v2, v1] = template_versions(open_store(), project.id, "zero-shot")
    assert (v2.version, v1.version) == (2, 1) and "under 20 words" in v2.user
    assert "Saved zero-shot@2" in _texts(at.success)


def test_generate_page_runs_the_demo_recording_in_a_worker(studio_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    from core.store import generation_runs

    at = _demo_app(monkeypatch)
    at.switch_page("pages/generate.py").run()
    assert not at.exception
    assert "Recorded" in " ".join(c.value for c in at.caption)
    next(n for n in at.number_input if n.label == "Default per cell").set_value(2).run()
    assert "About **15 requests**" in _texts(at.info)
    next(b for b in at.button if b.label == "Start generating").click().run()
    assert not at.exception
    project = list_projects(open_store())[0]
    [run] = generation_runs.list_runs(open_store(), project.id)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and generation_runs.get_run(open_store(), run.id).status in (
        "planned",
        "running",
    ):
        time.sleep(0.3)
        at.run()
    final = generation_runs.get_run(open_store(), run.id)
    assert final.status == "done", final.message
    assert sum(generation_runs.run_counts(open_store(), run.id).samples.values()) == 30
    at.run()
    assert not at.exception
    assert any(d.value is not None and len(d.value) == 15 for d in at.dataframe)  # the per-cell table


def test_prompts_page_shows_the_saved_version_as_current(studio_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = _demo_app(monkeypatch)
    at.switch_page("pages/prompts.py").run()
    user = next(t for t in at.text_area if t.label == "User message")
    user.input(user.value + "\nKeep every text under 20 words.").run()
    assert next(b for b in at.button if b.label == "Try it").disabled  # unsaved changes
    next(b for b in at.button if b.label == "Save as a new version").click().run()
    assert not at.exception, at.exception
    version = at.selectbox(key="prompt_version_zero-shot")
    assert version.value == 2 and version.format_func(version.value) == "v2 (newest)"
    assert "under 20 words" in next(t for t in at.text_area if t.label == "User message").value
    assert next(b for b in at.button if b.label == "Save as a new version").disabled
    assert not next(b for b in at.button if b.label == "Try it").disabled


def test_data_page_exports_in_one_click(studio_home: Path) -> None:
    from core.io.importer import ColumnMapping, import_file

    project_id = _make_project()
    path = get_settings().uploads_dir / "two.csv"
    path.write_text("text,label\nnice phone,positive\nbad battery,negative\n", encoding="utf-8")
    import_file(open_store(), project_id, path, ColumnMapping("text", "label", language="en"))
    at = _app()
    at.switch_page("pages/data.py").run()
    assert not at.exception
    assert not [b for b in at.button if b.label == "Prepare the file"]  # no step before the download
    [download] = [d for d in at.get("download_button") if d.proto.id.endswith(f"export_dl_{project_id}")]
    assert shown(download.proto.label) == "Download Reviews.csv" and not download.proto.disabled
    at.multiselect(key=f"export_status_{project_id}").select("rejected").run()
    [download] = [d for d in at.get("download_button") if d.proto.id.endswith(f"export_dl_{project_id}")]
    assert download.proto.disabled  # no sample to export


def test_settings_page_says_where_keys_go_and_lists_servers_without_their_keys(
    studio_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "operator-home"
    (home / ".streamlit").mkdir(parents=True)
    (home / ".streamlit" / "secrets.toml").write_text(
        'GROQ_API_KEY = "gsk-groq-secret-4242"\n\n'
        '[endpoints.groq]\nbase_url = "https://api.groq.com/openai/v1"\nmodels = ["llama-3.1-8b-instant"]\n'
        'key_env = "GROQ_API_KEY"\n\n'
        '[endpoints.lab]\nbase_url = "https://llm.lab.example/v1"\nkey_env = "LAB_KEY"\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("OPENAI_API_KEY", "sk-operator-secret-1234")
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.delenv("LAB_KEY", raising=False)
    at = _app()
    at.switch_page("pages/settings.py").run()
    assert not at.exception
    assert "API keys" in [h.value for h in at.subheader]
    words = _texts(at.markdown)
    assert "On the Generate page" in words and "OPENAI_API_KEY" in words and ".streamlit/secrets.toml" in words
    servers = next(d.value for d in at.dataframe if "address" in d.value.columns)
    assert servers.to_dict("records") == [
        {"name": "openai", "address": "https://api.openai.com/v1", "models": "any (typed)",
         "key": "set (OPENAI_API_KEY)"},
        {"name": "groq", "address": "https://api.groq.com/openai/v1", "models": "llama-3.1-8b-instant",
         "key": "set (GROQ_API_KEY)"},
        {"name": "lab", "address": "https://llm.lab.example/v1", "models": "any (typed)",
         "key": "missing: set LAB_KEY"},
    ]  # fmt: skip
    page = str([e.proto for e in at.main])  # everything the page sent, every element
    assert "sk-operator-secret-1234" not in page and "gsk-groq-secret-4242" not in page


def test_prompts_page_try_it_says_why_the_recorded_answers_cannot_serve_a_new_project(studio_home: Path) -> None:
    _make_project()
    at = _app()
    at.switch_page("pages/prompts.py").run()
    assert not at.exception
    assert next(b for b in at.button if b.label == "Try it").disabled
    assert "The recorded answers hold nothing for English × positive" in _texts(at.warning)
