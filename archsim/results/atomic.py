"""Atomic file writing: write a temporary file in the target's folder, then os.replace it.

A reader never sees a half-written file, and an interrupted write leaves the old file (if
any) in place. The temporary file keeps the target's extension so that libraries which
infer the format from the name (matplotlib, h5py drivers) behave as for the real path.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from archsim.errors import ArchsimError

# Read once: os.umask can only be read by setting it, which is not thread-safe later on.
_UMASK = os.umask(0)
os.umask(_UMASK)


def _final_mode(path: Path) -> int:
    """Keep an existing file's permissions; a new file gets the usual umask-based mode."""
    try:
        return path.stat().st_mode & 0o7777
    except OSError:
        return 0o666 & ~_UMASK


def cannot_write(exc: OSError, path) -> ArchsimError:
    """The one-line error for an OSError met writing `path`. mkdir says "File exists" (or
    open "Not a directory") when a part of the folder path is a file: that part is named."""
    path = Path(path)
    blocker = next((p for p in path.parents if p.exists() and not p.is_dir()), None)
    why = f"{blocker} is a file, not a folder" if blocker else exc.strerror or exc
    return ArchsimError(f"cannot write: {why}", path)


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path beside `path`; on success it replaces `path`, on error it is removed.

    For writers that want a file name (h5py, matplotlib):
        with atomic_path("out.h5") as tmp:
            with h5py.File(tmp, "w") as f: ...
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".tmp{path.suffix}", dir=path.parent)
        os.close(fd)
    except OSError as exc:
        raise cannot_write(exc, path) from None
    try:
        yield Path(tmp)
        with open(tmp, "rb") as fh:   # flush to disk before the rename makes it visible
            os.fsync(fh.fileno())
        os.chmod(tmp, _final_mode(path))
        try:
            os.replace(tmp, path)
        except OSError as exc:      # e.g. the target is a folder
            raise cannot_write(exc, path) from None
        with contextlib.suppress(OSError):     # the rename itself reaches the disk
            dfd = os.open(path.parent, os.O_RDONLY)
            try:
                os.fsync(dfd)
            finally:
                os.close(dfd)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def atomic_open(path, mode: str = "w", encoding: str | None = "utf-8", newline: str | None = None):
    """Like open(path, mode) for writing ('w' or 'wb'), but atomic."""
    if mode not in ("w", "wb", "wt"):
        raise ValueError(f"atomic_open writes whole files; mode {mode!r} is not 'w' or 'wb'")
    with atomic_path(path) as tmp:
        kwargs = {} if "b" in mode else {"encoding": encoding, "newline": newline}
        with open(tmp, mode, **kwargs) as fh:
            yield fh


def atomic_write_text(path, text: str, encoding: str = "utf-8") -> Path:
    with atomic_open(path, "w", encoding=encoding) as fh:
        fh.write(text)
    return Path(path)


def atomic_write_bytes(path, data: bytes) -> Path:
    with atomic_open(path, "wb") as fh:
        fh.write(data)
    return Path(path)
