"""mixformerv2.files: atomic writes, ordinary permissions, one cache root."""
import os
import stat

import pytest

from mixformerv2 import files


def test_atomic_write_replaces_in_one_step_with_ordinary_permissions(tmp_path):
    target = tmp_path / "sub" / "out.txt"
    files.atomic_write_text(target, "first\n")
    files.atomic_write_text(target, "second\n")
    assert target.read_text() == "second\n"
    mode = stat.S_IMODE(target.stat().st_mode)
    assert mode == 0o666 & ~files.current_umask()
    assert sorted(p.name for p in target.parent.iterdir()) == ["out.txt"]


def test_atomic_write_failure_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("kept\n")

    def fail(tmp):
        with open(tmp, "w") as f:
            f.write("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        files.atomic_write(target, fail)
    assert target.read_text() == "kept\n"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_cache_root_order(monkeypatch, tmp_path):
    monkeypatch.delenv("MIXFORMERV2_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert files.cache_root() == tmp_path / "xdg" / "mixformerv2"
    monkeypatch.setenv("MIXFORMERV2_CACHE", str(tmp_path / "mine"))
    assert files.cache_root() == tmp_path / "mine"


def test_photo_cache_and_onnx_cache_share_the_root(monkeypatch, tmp_path):
    from mixformerv2.data.photos import photo_cache_dir

    monkeypatch.delenv("MIXFORMERV2_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert photo_cache_dir().parent == files.cache_root() == tmp_path / "mixformerv2"


def test_make_readable_directory(tmp_path):
    import tempfile

    folder = tempfile.mkdtemp(dir=tmp_path)
    files.make_readable(folder, directory=True)
    assert stat.S_IMODE(os.stat(folder).st_mode) == 0o777 & ~files.current_umask()


def test_write_errors_name_the_file_not_the_temporary(tmp_path):
    target = tmp_path / "out.txt"

    def full(tmp):
        raise OSError(28, "No space left on device", tmp)

    with pytest.raises(files.OutputWriteError) as err:
        files.atomic_write(target, full)
    message = str(err.value)
    assert message == f"cannot write {target}: No space left on device"
    assert ".tmp" not in message and "[Errno" not in message
    assert list(tmp_path.iterdir()) == []


def test_stale_temporaries_of_dead_processes_are_removed(tmp_path):
    target = tmp_path / "last.pth"
    dead = tmp_path / f".last.pth.{2 ** 22 + 777}-x1y2.tmp"
    alive = tmp_path / f".last.pth.{os.getppid()}-x3y4.tmp"
    other = tmp_path / ".other.txt.123-abc.tmp"
    for p in (dead, alive, other):
        p.write_text("partial")
    files.atomic_write_text(target, "new")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["last.pth", alive.name, other.name])
