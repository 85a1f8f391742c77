"""Writing files without losing anything: atomic replacement, ordinary permissions, the cache folder.

Every writer in the package goes through here, so that a crash or Ctrl-C never leaves a half-written file
under a final name, and files made through private temporary files get the permissions a plain ``open``
would have given them (0666 / 0777 minus the umask).
"""
from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path
from typing import Callable, List, Union

from .processes import process_alive

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


class OutputPathError(OSError):
    """An output path that cannot be written as asked (a folder, say); the message names the path."""


class OutputWriteError(OSError):
    """Writing an output file failed (a full disk, no permission); the message names the file, not a temporary
    one. ``requested``: the path the caller asked to write (before following symbolic links)."""

    def __init__(self, message: str, requested: Union[str, os.PathLike, None] = None):
        super().__init__(message)
        self.requested = requested


def output_target(path: PathLike) -> Path:
    """Where writing ``path`` really goes: a symbolic link's final target (so that the link stays a link),
    else ``path``. Raises OutputPathError when it is a folder."""
    path = Path(path)
    if path.is_symlink():
        path = Path(os.path.realpath(path))
    if path.is_dir():
        raise OutputPathError(f"{path} is a folder, not a file")
    return path


def is_special_file(path: PathLike) -> bool:
    """True for an existing device, FIFO or socket (written in place, never replaced)."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return not stat.S_ISREG(mode) and not stat.S_ISDIR(mode)


def temporary_prefix(path: PathLike) -> str:
    """The name prefix of this process's temporary files for ``path``: ``.<name>.<pid>-`` (the process id lets
    a later run tell a killed run's leftovers from a live run's files)."""
    return f".{Path(path).name}.{os.getpid()}-"


def remove_stale_temporaries(path: PathLike) -> List[Path]:
    """Delete the temporary files that runs killed while writing ``path`` left beside it (``.<name>.<pid>-*``
    whose process no longer exists). Returns what was removed."""
    path = Path(path)
    removed: List[Path] = []
    try:
        entries = list(os.scandir(path.parent))
    except OSError:
        return removed
    prefix = f".{path.name}."
    for entry in entries:
        if not entry.name.startswith(prefix):
            continue
        pid_text, dash, _ = entry.name[len(prefix):].partition("-")
        if not (pid_text.isdigit() and dash) or int(pid_text) == os.getpid() or process_alive(int(pid_text)):
            continue
        try:
            if entry.is_file(follow_symlinks=False):
                os.unlink(entry.path)
                removed.append(Path(entry.path))
        except OSError:
            pass
    return removed


def atomic_write(path: PathLike, write_fn: Callable[[str], object]) -> None:
    """Call ``write_fn(temporary_path)`` and move the result to ``path`` in one step (no half-written files).
    The temporary file sits beside ``path`` (same file system) and is removed when ``write_fn`` fails.

    A symbolic link is written through (its target is replaced, the link stays); a device, FIFO or socket
    (``/dev/null``, say) is written in place by ``write_fn(path)``, never replaced by a regular file."""
    requested = path
    path = output_target(path)
    if is_special_file(path):
        try:
            write_fn(str(path))
        except OSError as exc:
            raise OutputWriteError(f"cannot write {path}: {exc.strerror or exc}", requested) from None
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(path)
        fd, tmp = tempfile.mkstemp(prefix=temporary_prefix(path), suffix=".tmp", dir=str(path.parent))
        os.close(fd)
    except OSError as exc:
        raise OutputWriteError(f"cannot write {path}: {exc.strerror or exc}", requested) from None
    try:
        write_fn(tmp)
        make_readable(tmp)
        os.replace(tmp, path)
    except BaseException as exc:
        if os.path.exists(tmp):
            os.unlink(tmp)
        if isinstance(exc, OSError) and not isinstance(exc, OutputWriteError):
            # Name the file the user asked for, not the temporary one, and no bare "[Errno 28]".
            raise OutputWriteError(f"cannot write {path}: {exc.strerror or exc}", requested) from None
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


__all__ = ["OutputPathError", "OutputWriteError", "atomic_write", "atomic_write_text", "cache_root", "current_umask",
           "is_special_file", "make_readable", "output_target", "remove_stale_temporaries", "temporary_prefix"]
