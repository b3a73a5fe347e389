"""How an import's messages name the options a person can change: the Data page's words or the CLI's flags.

The page's checkboxes take their labels from here, so a message can quote them exactly."""

from __future__ import annotations

from dataclasses import dataclass

ADD_LABELS_OPTION = "Add labels the project does not have yet"
ADD_LANGUAGES_OPTION = "Add languages the project does not have yet"


@dataclass(frozen=True)
class ImportWords:
    add_labels: str  # how to ask for new labels to be added
    add_languages: str  # how to ask for new languages to be added
    skip_invalid: str  # how to import the valid rows and skip the others


PAGE_WORDS = ImportWords(
    add_labels=f"tick '{ADD_LABELS_OPTION}'",
    add_languages=f"tick '{ADD_LANGUAGES_OPTION}'",
    skip_invalid="tick 'Import the valid rows and skip the others'",
)
CLI_WORDS = ImportWords(
    add_labels="use --add-labels",
    add_languages="use --add-languages",
    skip_invalid="use --skip-invalid",
)
