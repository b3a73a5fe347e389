"""The Data page's import with a few bad rows (AppTest: the real page, the real store): a way forward, in the
page's own words."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
from streamlit.testing.v1 import AppTest

from core.store import open_store
from core.store.projects import create_project, get_project, parse_spec
from core.store.samples import iter_samples
from tests.page_text import texts

ROOT = Path(__file__).resolve().parents[2]
# 11 rows, 3 of them bad: a typo of a label, a language code that does not exist, a label with no near spelling
CSV = (
    "text,label,language\n"
    "Will it rain on Friday?,weather,en\n"
    "Maize is 40 shillings a kilo,market_prices,en\n"
    "Is a storm coming tonight?,Weather,en\n"
    "Mvua itanyesha kesho?,weather,sw\n"
    "Frost tonight?,wether,en\n"
    "Bei ya nyanya leo?,market_prices,sw\n"
    "How much for beans?,market_prices,xx\n"
    "Hot week ahead?,weather,en\n"
    "Aphids on my kale,pests,en\n"
    "Mahindi yanauzwa bei gani?,market_prices,sw\n"
    "Fog in the valley?,weather,sw\n"
)


def _import_page() -> tuple[AppTest, int]:
    spec = parse_spec(
        name="Farm SMS",
        labels=[{"name": "weather"}, {"name": "market_prices"}],
        languages=[{"code": "en"}, {"code": "sw"}],
    )
    project_id = create_project(open_store(), spec).id
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.run()
    at.switch_page("pages/data.py").run()
    at.file_uploader[0].upload("farm.csv", CSV.encode(), "text/csv").run()
    assert not at.exception, at.exception
    return at, project_id


def _import_button(at: AppTest):  # type: ignore[no-untyped-def]
    return next(b for b in at.button if b.label.startswith("Import "))


def test_a_file_with_three_bad_rows_offers_to_import_the_other_eight(studio_home: Path) -> None:
    at, project_id = _import_page()
    errors = texts(at.error)
    assert "did you mean 'weather'?" in errors
    assert "tick 'Add labels the project does not have yet'" in errors
    assert "--add-labels" not in errors + texts(at.warning) + texts(at.info)
    assert "The label 'Weather' is stored as the project's 'weather'" in texts(at.info)
    assert _import_button(at).disabled  # nothing happens without the explicit choice

    skip = at.checkbox(key=next(c.key for c in at.checkbox if c.label.startswith("Import the 8 valid rows")))
    assert skip.label == "Import the 8 valid rows and skip the 3 rows listed above"
    skip.check().run()
    assert [m.value for m in at.metric][:3] == ["11", "8", "3"]
    assert _import_button(at).label == "Import 8 samples" and not _import_button(at).disabled
    _import_button(at).click().run()
    assert not at.exception, at.exception
    assert "Imported 8 samples from farm.csv, skipped 3" in texts(at.success)
    store = open_store()
    stored = sorted((s.text, s.label) for s in iter_samples(store, project_id))
    assert len(stored) == 8 and ("Is a storm coming tonight?", "weather") in stored
    assert get_project(store, project_id).label_names == ["weather", "market_prices"]


def test_the_skipped_rows_are_offered_as_a_csv(studio_home: Path) -> None:
    from core.io.importer import ColumnMapping, plan_import
    from core.io.skipped_rows import skipped_rows_csv

    at, project_id = _import_page()
    [download] = [d for d in at.get("download_button") if "skipped rows" in d.proto.label]
    assert download.proto.label == "Download the 3 skipped rows (CSV)"
    # what the button serves: the core's file for this plan
    plan = plan_import(
        open_store(),
        project_id,
        pd.read_csv(io.StringIO(CSV), dtype=str, keep_default_na=False),
        ColumnMapping("text", "label", language_column="language"),
        "farm.csv",
    )
    rows = pd.read_csv(io.BytesIO(skipped_rows_csv(plan)), dtype=str, keep_default_na=False)
    assert list(rows["text"]) == ["Frost tonight?", "How much for beans?", "Aphids on my kale"]
