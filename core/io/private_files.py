"""Files and folders the studio writes for one person: uploads, exports, unpacked archives (owner-only modes)."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from core.io.disk_full import DISK_FULL_MESSAGE, disk_full_in_plain_words

FILE_MODE = 0o600
FOLDER_MODE = 0o700
_WRITE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)


def make_private_dirs(folder: Path) -> None:
    """Create `folder` and its missing parents as 0700; folders that already exist keep their mode."""
    missing: list[Path] = []
    current = Path(folder)
    while not current.exists():
        missing.append(current)
        current = current.parent
    for path in reversed(missing):
        with contextlib.suppress(FileExistsError):  # made meanwhile by another process
            path.mkdir(mode=FOLDER_MODE)


def own_private_dir(folder: Path) -> Path:
    """A folder of the studio's own (uploads, unpacking) that only its owner may enter, even if made earlier."""
    make_private_dirs(folder)
    folder.chmod(FOLDER_MODE)
    return folder


def write_private_file(path: Path, data: bytes, full_message: str = DISK_FULL_MESSAGE) -> None:
    """Write `data` to a file created 0600 (an existing file is truncated; a link there is refused)."""
    with disk_full_in_plain_words(full_message):
        descriptor = os.open(path, _WRITE_FLAGS, FILE_MODE)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)


def make_tree_private(folder: Path) -> None:
    """Files 0600 and folders 0700 below and including `folder` (links are left alone)."""
    folder.chmod(FOLDER_MODE)
    for root, dirs, files in os.walk(folder):
        for name in dirs:
            path = Path(root) / name
            if not path.is_symlink():
                path.chmod(FOLDER_MODE)
        for name in files:
            path = Path(root) / name
            if not path.is_symlink():
                path.chmod(FILE_MODE)
