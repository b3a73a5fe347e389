"""From the browser, only files under the configured import folders can be read; the CLI reads what its user can."""

from __future__ import annotations

import os
from pathlib import Path

import datasets
import pytest
from streamlit.testing.v1 import AppTest

from components.safe_text import md
from core.cli import main
from core.errors import InvalidInput
from core.io.import_folders import allowed_import_folders, check_import_path
from core.settings import get_settings, reset_settings
from core.store import open_store
from core.store.projects import create_project, parse_spec
from core.store.samples import count_samples

ROOT = Path(__file__).resolve().parents[2]
CSV = "text,label\nhello there,a\n"


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A readable file that is not in any import folder."""
    path = tmp_path / "elsewhere" / "secret.csv"
    path.parent.mkdir()
    path.write_text(CSV, encoding="utf-8")
    return path


def test_the_default_folder_is_imports_in_the_studio_home_created_on_demand(studio_home: Path) -> None:
    assert not (studio_home / "imports").exists()
    assert allowed_import_folders() == [studio_home / "imports"]
    assert (studio_home / "imports").is_dir()


def test_a_file_inside_an_import_folder_is_allowed(studio_home: Path) -> None:
    inside = studio_home / "imports" / "team" / "rows.csv"
    inside.parent.mkdir(parents=True)
    inside.write_text(CSV, encoding="utf-8")
    assert check_import_path(str(inside)) == inside
    assert check_import_path("team/rows.csv") == inside  # a relative path is taken inside the first folder


def test_a_file_outside_the_import_folders_is_refused_naming_them(studio_home: Path, outside: Path) -> None:
    with pytest.raises(InvalidInput) as error:
        check_import_path(str(outside))
    message = str(error.value)
    assert f"'{outside}' is not in a folder the studio may read from" in message
    assert str(studio_home / "imports") in message
    assert "STUDIO_IMPORT_FOLDERS" in message
    with pytest.raises(InvalidInput, match="not in a folder the studio may read from"):
        check_import_path("/etc/passwd")


def test_dot_dot_and_symbolic_links_cannot_leave_the_folder(studio_home: Path, outside: Path) -> None:
    imports = allowed_import_folders()[0]
    with pytest.raises(InvalidInput, match="not in a folder the studio may read from"):
        check_import_path(str(imports / ".." / ".." / "elsewhere" / "secret.csv"))
    with pytest.raises(InvalidInput, match="not in a folder the studio may read from"):
        check_import_path(os.path.relpath(outside, imports))
    link = imports / "innocent.csv"
    link.symlink_to(outside)
    with pytest.raises(InvalidInput, match="not in a folder the studio may read from"):
        check_import_path(str(link))
    linked_folder = imports / "linked"
    linked_folder.symlink_to(outside.parent, target_is_directory=True)
    with pytest.raises(InvalidInput, match="not in a folder the studio may read from"):
        check_import_path(str(linked_folder / "secret.csv"))


def test_a_dataset_folder_holding_a_link_to_a_file_outside_is_refused(studio_home: Path, outside: Path) -> None:
    folder = allowed_import_folders()[0] / "dataset"
    datasets.Dataset.from_list([{"text": "x"}]).save_to_disk(str(folder))
    assert check_import_path(str(folder)) == folder
    (folder / "extra.arrow").symlink_to(outside)
    with pytest.raises(InvalidInput, match="links to a file outside"):
        check_import_path(str(folder))


def test_several_folders_can_be_configured(
    studio_home: Path, tmp_path: Path, outside: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shared = tmp_path / "shared-data"
    shared.mkdir()
    (shared / "x.csv").write_text(CSV, encoding="utf-8")
    monkeypatch.setenv("STUDIO_IMPORT_FOLDERS", os.pathsep.join([str(shared), str(outside.parent)]))
    reset_settings()
    assert allowed_import_folders() == [shared, outside.parent]
    assert check_import_path(str(outside)) == outside
    assert check_import_path("x.csv") == shared / "x.csv"
    with pytest.raises(InvalidInput, match="not in a folder the studio may read from"):
        check_import_path(str(studio_home / "studio.db"))


def test_the_cli_still_reads_any_file_its_user_can_read(outside: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["init", "--project", "P", "--labels", "a", "--languages", "en"]) == 0
    code = main(["import", "--project", "P", str(outside), "--text-column", "text", "--language", "en"])
    assert code == 0, capsys.readouterr().err
    assert count_samples(open_store(), 1) == 1


# --- the Import page -------------------------------------------------------------------------------------------


def _import_tab() -> AppTest:
    spec = parse_spec(name="Folders", labels=[{"name": "a"}], languages=[{"code": "en"}])
    create_project(open_store(), spec)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.run()
    at.switch_page("pages/data.py").run()
    assert not at.exception, at.exception
    return at


def _page_text(at: AppTest) -> str:
    return " ".join(str(e.value) for kind in ("caption", "markdown", "error", "info") for e in at.get(kind))


def _read_path(at: AppTest, raw: str) -> None:
    next(t for t in at.text_input if t.label == "Path on this machine").input(raw).run()
    next(b for b in at.button if b.label == "Read it").click().run()
    assert not at.exception, at.exception


def test_the_import_page_says_which_folders_it_reads_and_refuses_others(studio_home: Path, outside: Path) -> None:
    at = _import_tab()
    imports = get_settings().home / "imports"
    assert md(str(imports)) in _page_text(at)

    _read_path(at, str(outside))
    errors = " ".join(str(e.value) for e in at.error)
    assert "is not in a folder the studio may read from" in errors
    assert "hello there" not in str([d.value for d in at.dataframe])
    assert not any(b.label.startswith("Import ") for b in at.button)


def test_the_import_page_reads_a_file_in_the_imports_folder(studio_home: Path) -> None:
    at = _import_tab()
    (get_settings().home / "imports" / "rows.csv").write_text(CSV, encoding="utf-8")
    _read_path(at, "rows.csv")
    assert not at.error
    assert "hello there" in at.dataframe[0].value["text"].tolist()
    assert next(b for b in at.button if b.label.startswith("Import ")).label == "Import 1 samples"
