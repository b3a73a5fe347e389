"""Which files the pages may read from the server: only those under the configured import folders.

The CLI reads whatever its operating-system user can read; a browser may be someone else, so the Import page
reads only below STUDIO_IMPORT_FOLDERS (default: `imports/` in the studio's data folder).
"""

from __future__ import annotations

import os
from pathlib import Path

from core.errors import InvalidInput
from core.io.private_files import make_private_dirs
from core.settings import Settings, get_settings


def allowed_import_folders(settings: Settings | None = None) -> list[Path]:
    """The folders the pages may read from; the default one is created when it is missing."""
    settings = settings or get_settings()
    folders = list(settings.import_folders)
    default = settings.default_import_folder
    if default in folders and not default.exists():
        make_private_dirs(default)
    return folders


def _inside(path: Path, folders: list[Path]) -> bool:
    return any(path.is_relative_to(folder.resolve()) for folder in folders)


def _refusal(raw: str, folders: list[Path]) -> str:
    listed = ", ".join(str(folder) for folder in folders)
    return (
        f"'{raw}' is not in a folder the studio may read from. From this page it reads files only in: {listed}. "
        "Put the file there, or ask whoever runs the studio to add its folder to STUDIO_IMPORT_FOLDERS."
    )


def check_import_path(raw: str, settings: Settings | None = None) -> Path:
    """The file or dataset folder `raw` names, resolved (links and `..` followed), if it lies inside an import
    folder; otherwise InvalidInput naming the folders. A relative path is taken inside the first folder."""
    settings = settings or get_settings()
    folders = allowed_import_folders(settings)
    text = raw.strip()
    if not text:
        raise InvalidInput("Type the path of a file or of a dataset folder.")
    candidate = Path(text).expanduser()
    if not candidate.is_absolute():
        candidate = folders[0] / candidate
    resolved = candidate.resolve()
    if not _inside(resolved, folders):
        raise InvalidInput(_refusal(text, folders))
    if resolved.is_dir():
        _check_folder_links(resolved, text, folders, settings.max_archive_files)
    return resolved


def _check_folder_links(folder: Path, raw: str, folders: list[Path], max_entries: int) -> None:
    """A dataset folder may not hold links that lead out of the import folders."""
    seen = 0
    for root, dirs, files in os.walk(folder):  # links to folders are not followed, only checked
        for name in (*dirs, *files):
            seen += 1
            if seen > max_entries:
                raise InvalidInput(
                    f"'{raw}' holds more than {max_entries:,} files and folders, more than the studio reads "
                    "(STUDIO_MAX_ARCHIVE_FILES). Choose the dataset's own folder."
                )
            entry = Path(root) / name
            if entry.is_symlink() and not _inside(entry.resolve(), folders):
                raise InvalidInput(
                    f"'{raw}' links to a file outside the folders the studio may read from ({entry.name}); "
                    "copy the file into the folder instead of linking to it."
                )
