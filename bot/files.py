"""Reading and writing files, with errors that say which file and what to do."""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from bot.errors import ConflictError, InputError


def read_text(path: Path, *, what: str, hint: str) -> str:
    """Read a UTF-8 file; a missing or unreadable one is an InputError naming it."""
    try:
        # newline="": the text as it is, CRLF included, so that a write keeps the file's endings.
        with path.open(encoding="utf-8", newline="") as file:
            return file.read()
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


def write_atomically(path: Path, text: str, *, expected: str | None = None) -> None:
    """Replace ``path`` with ``text`` in one step: a reader sees the old file or the new one.

    A symbolic link is written through: its target is replaced and the link stays. With
    ``expected`` (the text the change was planned from), the file is replaced only if it still
    holds that text, checked under a lock on its folder, so of two rampbots writing at once the
    second fails (ConflictError) instead of silently undoing the first. Temporary files are
    made only under that lock, so one found there was left by a writer that was killed: it is
    removed.
    """
    target = Path(os.path.realpath(path))
    with _folder_locked(target.parent):
        if expected is not None:
            _check_unchanged(path, target, expected)
        _remove_abandoned(target)
        fd, temporary = tempfile.mkstemp(
            dir=target.parent, prefix=f".{target.name}.", suffix=".tmp"
        )
        try:
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
                handle.write(text)
            if target.exists():
                os.chmod(temporary, target.stat().st_mode & 0o7777)
            os.replace(temporary, target)
        except BaseException:  # SIGTERM and Ctrl-C too: bot/cli.py raises them as exceptions
            Path(temporary).unlink(missing_ok=True)
            raise


@contextlib.contextmanager
def _folder_locked(folder: Path) -> Iterator[None]:
    """An exclusive lock on ``folder`` among rampbot processes; no lock file is left behind."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _check_unchanged(path: Path, target: Path, expected: str) -> None:
    try:
        with target.open(encoding="utf-8", newline="") as file:
            current: str | None = file.read()
    except (OSError, UnicodeDecodeError):
        current = None
    if current != expected:
        raise ConflictError(
            f"{path}: changed since rampbot read it (another rampbot apply, or an editor); "
            "nothing written. Run the command again to plan from what it holds now",
            file=str(path),
        )


def _remove_abandoned(target: Path) -> None:
    """Remove the ``.<name>.*.tmp`` files a killed writer left beside ``target``."""
    for candidate in target.parent.glob(f".{target.name}.*.tmp"):
        with contextlib.suppress(OSError):  # removed meanwhile, or not ours to remove
            candidate.unlink()
