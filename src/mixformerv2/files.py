"""Writing files without losing anything: atomic replacement, ordinary permissions, the cache folder.

Every writer in the package goes through here, so that a crash or Ctrl-C never leaves a half-written file
under a final name, and files made through private temporary files get the permissions a plain ``open``
would have given them (0666 / 0777 minus the umask).
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Callable, Union

PathLike = Union[str, os.PathLike]


def current_umask() -> int:
    """The process umask (reading it means setting it; it is set straight back)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


def make_readable(path: PathLike, directory: bool = False) -> None:
    """Give ``path`` the permissions of an ordinary new file (0666 minus umask) or folder (0777 minus umask):
    ``mkstemp``/``mkdtemp`` create them private (0600 / 0700)."""
    os.chmod(path, (0o777 if directory else 0o666) & ~current_umask())


def atomic_write(path: PathLike, write_fn: Callable[[str], object]) -> None:
    """Call ``write_fn(temporary_path)`` and move the result to ``path`` in one step (no half-written files).
    The temporary file sits beside ``path`` (same file system) and is removed when ``write_fn`` fails."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=str(path.parent))
    os.close(fd)
    try:
        write_fn(tmp)
        make_readable(tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_text(path: PathLike, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))


def cache_root() -> Path:
    """The package's cache folder: ``$MIXFORMERV2_CACHE``, else ``$XDG_CACHE_HOME/mixformerv2``, else
    ``~/.cache/mixformerv2`` (ONNX exports and shrunk photos live below it). It may not exist yet."""
    if os.environ.get("MIXFORMERV2_CACHE"):
        return Path(os.environ["MIXFORMERV2_CACHE"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser() / "mixformerv2"


__all__ = ["atomic_write", "atomic_write_text", "cache_root", "current_umask", "make_readable"]
