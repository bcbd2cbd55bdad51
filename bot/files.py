"""Reading and writing files, with errors that say which file and what to do."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from bot.errors import InputError


def read_text(path: Path, *, what: str, hint: str) -> str:
    """Read a UTF-8 file; a missing or unreadable one is an InputError naming it."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{path}: no such {what}; {hint}", file=str(path)) from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a directory, not a {what}", file=str(path)) from None
    except UnicodeDecodeError as error:
        raise InputError(
            f"{path}: not UTF-8 text (byte {error.start}); save it as UTF-8", file=str(path)
        ) from None
    except OSError as error:
        raise InputError(
            f"{path}: cannot read the {what}: {error.strerror}", file=str(path)
        ) from None


def write_atomically(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` in one step: a reader sees the old file or the new one."""
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        if path.exists():
            os.chmod(temporary, path.stat().st_mode & 0o7777)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
