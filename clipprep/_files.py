"""Atomic file writing, shared by every module that produces a file.

Files are written under a temporary name in the target folder (same file system, so the final
rename is atomic) and get the permissions a normally created file would have: ``mkstemp`` alone
makes them private (0600), which is wrong for a clip or a report the user will share.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def _default_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def temporary_beside(target: Path, suffix: str = ".part") -> Path:
    """A new empty file next to ``target`` with normal permissions; the caller removes it."""
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=suffix, dir=target.parent)
    os.close(fd)
    os.chmod(name, _default_mode())
    return Path(name)


def temporary_name_beside(target: Path, suffix: str = ".part") -> Path:
    """A fresh name for a temporary file next to ``target``; nothing is created. A caller that
    creates the file inside ``try``/``finally`` can always remove it: a Ctrl-C landing just
    after ``mkstemp`` made a file, before its name reached the caller, left the file behind."""
    import secrets

    return target.parent / f".{target.name}.{secrets.token_hex(6)}{suffix}"


def write_text_atomic(target: Path, text: str) -> None:
    """Replace ``target`` with ``text`` in one step: readers see the old file or the new one."""
    temporary = temporary_beside(target)
    try:
        temporary.write_text(text, encoding="utf-8", newline="")
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)


def sha256_file(path: str | os.PathLike) -> str:
    """Hex sha256 of a file's bytes, read in 1 MiB blocks."""
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
