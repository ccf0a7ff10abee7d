"""The checkout's git revision, for provenance: looked up once per process (the code a process
runs is what it imported), with "-dirty" when tracked files differ from that commit."""

from __future__ import annotations

import subprocess
from functools import lru_cache

OUTSIDE_RESULTS = ("cli", "plots")


@lru_cache(maxsize=1)
def code_identity() -> str:
    """A hash of the package's Python source and the Numba and NumPy versions: what decides a
    result besides its inputs ("-dirty" alone cannot tell two uncommitted states apart). The
    command line and the plots make no result (nothing else imports them), so an edit there
    reruns no sweep."""
    from pathlib import Path

    return source_hash(Path(__file__).resolve().parent)


def source_hash(root) -> str:
    """code_identity of the package at `root`."""
    import hashlib
    from pathlib import Path

    import numba
    import numpy
    root = Path(root)
    h = hashlib.sha1(f"{numba.__version__} {numpy.__version__}".encode())
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root)
        if "__pycache__" in rel.parts or rel.parts[0] in OUTSIDE_RESULTS:
            continue
        h.update(str(rel).encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


@lru_cache(maxsize=1)
def git_revision() -> str | None:
    """e.g. 'e619043' or 'e619043-dirty'; None outside a git checkout."""
    from archsim.paths import ROOT

    def git(*args):
        return subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True, timeout=5)

    try:
        head = git("rev-parse", "--short", "HEAD")
        if head.returncode != 0 or not head.stdout.strip():
            return None
        dirty = git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        return None
    return head.stdout.strip() + ("-dirty" if dirty.returncode == 0 and dirty.stdout.strip() else "")
