"""`track` output paths a hostile or unlucky user gives: devices, FIFOs and symbolic links are written through,
never replaced; a full disk stops the video at once and keeps the boxes; a killed run's temporary files are
cleaned up; implausible boxes are refused by name. Device nodes and FIFOs are made in a temporary folder."""
import os
import stat
import threading

import pytest

from mixformerv2 import files
from mixformerv2.cli import main
from mixformerv2.tracking import annotate

from .test_cli_track import crossing, read_boxes


def track(tmp_path, *extra, frames=5):
    folder, first = crossing()
    return main(["track", str(folder), "--box", ",".join(f"{v:g}" for v in first), "--max-frames", str(frames),
                 "--threads", "1", *[str(e) for e in extra]])


def make_device(path, major, minor):
    try:
        os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(major, minor))
    except (PermissionError, OSError) as exc:
        pytest.skip(f"cannot make a device node here ({exc}); needs root")


def test_out_to_a_null_device_keeps_the_device(tiny_weights, tmp_path, capsys):
    null = tmp_path / "null"
    make_device(null, 1, 3)
    code = track(tmp_path, "--weights", tiny_weights, "--out", null)
    err = capsys.readouterr().err
    assert stat.S_ISCHR(null.stat().st_mode), "the device was replaced by a regular file"
    # A file system mounted nodev refuses to open devices: a clear error, the node untouched.
    assert code == 0 or ("--out" in err and str(null) in err), err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["null"]


def test_out_to_a_full_device_is_an_error_naming_the_option(tiny_weights, tmp_path, capsys):
    full = tmp_path / "full"
    make_device(full, 1, 7)
    code = track(tmp_path, "--weights", tiny_weights, "--out", full)
    err = capsys.readouterr().err
    assert code == 2 and stat.S_ISCHR(full.stat().st_mode)
    assert "--out" in err and str(full) in err and "[Errno" not in err and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["full"]


def test_out_to_a_fifo_writes_into_it(tiny_weights, tmp_path):
    fifo = tmp_path / "boxes.fifo"
    os.mkfifo(fifo)
    received = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_text()), daemon=True)
    reader.start()
    assert track(tmp_path, "--weights", tiny_weights, "--out", fifo) == 0
    reader.join(timeout=30)
    assert stat.S_ISFIFO(fifo.stat().st_mode)
    assert len(received) == 1 and len(received[0].splitlines()) == 5


def test_out_through_a_symbolic_link_writes_its_target(tiny_weights, tmp_path):
    target = tmp_path / "real" / "boxes.txt"
    target.parent.mkdir()
    target.write_text("old\n")
    link = tmp_path / "link.txt"
    link.symlink_to(target)
    assert track(tmp_path, "--weights", tiny_weights, "--out", link) == 0
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert len(read_boxes(target)) == 5


def test_video_to_a_device_is_refused_before_tracking(tiny_weights, tmp_path, capsys):
    null = tmp_path / "null.mp4"
    make_device(null, 1, 3)
    out = tmp_path / "boxes.txt"
    code = track(tmp_path, "--weights", tiny_weights, "--video", null, "--out", out)
    err = capsys.readouterr().err
    assert code == 2 and "--video" in err and "regular file" in err
    assert stat.S_ISCHR(null.stat().st_mode) and not out.exists()


def test_full_disk_stops_the_video_at_once_and_keeps_the_boxes(tiny_weights, tmp_path, capsys, monkeypatch):
    frames_written = []
    real_free = annotate.free_bytes

    def free_after_three(folder):          # the disk fills up after the third frame
        return real_free(folder) if len(frames_written) < 3 else 1000

    real_write = annotate.AnnotatedVideoWriter.write

    def counting_write(self, frame):
        real_write(self, frame)
        frames_written.append(1)

    monkeypatch.setattr(annotate, "free_bytes", free_after_three)
    monkeypatch.setattr(annotate.AnnotatedVideoWriter, "write", counting_write)
    video, out = tmp_path / "v.mp4", tmp_path / "boxes.txt"
    code = track(tmp_path, "--weights", tiny_weights, "--video", video, "--out", out, frames=40)
    err = capsys.readouterr().err
    assert code == 2, err
    assert "--video" in err and str(video) in err and "no space left" in err and str(out) in err
    assert len(frames_written) == 3                       # stopped at once, not after all 40 frames
    assert not video.exists() and len(read_boxes(out)) == 4
    assert sorted(p.name for p in tmp_path.iterdir()) == ["boxes.txt"]     # no temporary video left


def test_a_killed_runs_temporary_files_are_removed(tiny_weights, tmp_path):
    dead_pid = 2 ** 22 + 12345                    # above any pid_max: no such process
    stale_video = tmp_path / f".v.mp4.{dead_pid}-abcd.mp4"
    stale_boxes = tmp_path / f".boxes.txt.{dead_pid}-efgh.tmp"
    live = tmp_path / f".boxes.txt.{os.getppid()}-ijkl.tmp"     # a running process's file stays
    for p in (stale_video, stale_boxes, live):
        p.write_text("partial")
    assert track(tmp_path, "--weights", tiny_weights, "--video", tmp_path / "v.mp4", "--out",
                 tmp_path / "boxes.txt") == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["v.mp4", "boxes.txt", live.name])


@pytest.mark.parametrize("box", ["205,151,1e6,1e6", "205,151,1e308,1e308", "0,0,2000,50"])
def test_implausibly_large_boxes_are_refused(tiny_weights, tmp_path, capsys, box):
    folder, _ = crossing()
    out = tmp_path / "boxes.txt"
    code = main(["track", str(folder), f"--box={box}", "--weights", str(tiny_weights), "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and "far larger than the 360x240 frame" in err and "Traceback" not in err
    assert not out.exists()


def test_atomic_write_keeps_links_and_devices(tmp_path):
    target = tmp_path / "t.txt"
    link = tmp_path / "l.txt"
    link.symlink_to(target)
    files.atomic_write_text(link, "x\n")
    assert link.is_symlink() and target.read_text() == "x\n"
    (tmp_path / "dir").mkdir()
    with pytest.raises(files.OutputPathError, match="is a folder"):
        files.atomic_write_text(tmp_path / "dir", "x")


def test_frames_that_change_size_midway_are_reported(tiny_weights, tmp_path, caplog):
    import logging

    import cv2
    import numpy as np

    folder = tmp_path / "frames"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(6):
        size = (48, 64) if i < 3 else (96, 128)
        cv2.imwrite(str(folder / f"{i:03d}.png"), rng.integers(0, 256, size + (3,), dtype=np.uint8))
    with caplog.at_level(logging.WARNING):
        assert main(["track", str(folder), "--box", "10,10,20,20", "--weights", str(tiny_weights), "--out",
                     str(tmp_path / "b.txt")]) == 0
    assert "frame 4 of 6 (003.png) is 128x96, but the first frame is 64x48" in caplog.text
    assert caplog.text.count("but the first frame is") == 1
