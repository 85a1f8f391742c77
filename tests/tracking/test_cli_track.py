"""`mixformerv2 track` end to end: real image folder and video, several targets, frame sources, bad input."""
import math
from pathlib import Path

import cv2
import numpy as np
import pytest

from mixformerv2 import build_model, save_checkpoint
from mixformerv2.cli import main
from mixformerv2.datasets.images import natural_key, read_image
from mixformerv2.tracking.sources import open_source

from conftest import shared_path
from .conftest import TINY


def read_boxes(path):
    return [[float(v) for v in line.split(",")] for line in Path(path).read_text().splitlines()]


def crossing():
    folder = shared_path("data", "sequences", "otb-Crossing")
    first = [float(v) for v in (folder / "groundtruth_rect.txt").read_text().split("\n")[0].replace(",", " ").split()]
    return folder, first


def assert_inside(boxes, width, height):
    for x, y, w, h in boxes:
        assert all(math.isfinite(v) for v in (x, y, w, h)) and w > 0 and h > 0
        assert x >= 0 and y >= 0 and x + w <= width + 1e-6 and y + h <= height + 1e-6


def test_track_otb_crossing_image_folder(tiny_weights, tmp_path, capsys):
    folder, first = crossing()
    out, video = tmp_path / "boxes.txt", tmp_path / "annotated.mp4"
    code = main(["track", str(folder), "--box", ",".join(f"{v:g}" for v in first), "--weights", str(tiny_weights),
                 "--out", str(out), "--video", str(video), "--threads", "1", "--profile"])
    assert code == 0
    boxes = read_boxes(out)
    assert len(boxes) == 120 and boxes[0] == first
    assert_inside(boxes, 360, 240)
    report = capsys.readouterr().out
    assert "tracked 120 frames" in report and "FPS" in report and "model call" in report
    capture = cv2.VideoCapture(str(video))
    assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == 120
    ok, frame = capture.read()
    assert ok and frame.shape == (240, 360, 3)


def make_video(path, frames, fps=25.0, codec="MJPG"):
    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*codec), fps, (width, height))
    for f in frames:
        writer.write(cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
    writer.release()


def crossing_frames(count):
    folder, first = crossing()
    files = sorted((folder / "img").iterdir())[:count]
    return [read_image(f) for f in files], first


def test_track_a_video_file_with_two_targets(tiny_weights, tmp_path):
    frames, first = crossing_frames(30)
    source = tmp_path / "clip.mp4"
    make_video(source, frames, codec="mp4v")
    out = tmp_path / "res" / "boxes.txt"
    second = [20.0, 30.0, 40.0, 60.0]
    code = main(["track", str(source), "--box", ",".join(map(str, first)), "--box", "20,30,40,60",
                 "--weights", str(tiny_weights), "--out", str(out), "--benchmark-params", "lasot"])
    assert code == 0
    for i, box in enumerate((first, second)):
        boxes = read_boxes(tmp_path / "res" / f"boxes_{i + 1}.txt")
        assert len(boxes) == 30 and boxes[0] == box
        assert_inside(boxes[1:], 360, 240)
    assert not out.exists()


def test_image_folder_of_grayscale_16_bit_and_rgba_frames_in_natural_order(tiny_weights, tmp_path):
    rng = np.random.default_rng(0)
    folder = tmp_path / "frames"
    folder.mkdir()
    base = rng.integers(0, 256, (47, 61, 3), dtype=np.uint8)
    names = ["f1.png", "f2.png", "f10.png", "f9.png", "f11.png"]
    cv2.imwrite(str(folder / names[0]), base)
    cv2.imwrite(str(folder / names[1]), base[:, :, 0])                                   # grayscale
    cv2.imwrite(str(folder / names[2]), base.astype(np.uint16) * 257)                     # 16-bit
    cv2.imwrite(str(folder / names[3]), np.dstack([base, np.full(base.shape[:2], 128, np.uint8)]))  # alpha
    cv2.imwrite(str(folder / names[4]), base[:, :, 1].astype(np.uint16) * 257)           # 16-bit grayscale
    (folder / "notes.txt").write_text("not a frame")
    assert [p.name for p in open_source(folder).files] == ["f1.png", "f2.png", "f9.png", "f10.png", "f11.png"]
    np.testing.assert_array_equal(read_image(folder / "f10.png"), read_image(folder / "f1.png"))
    np.testing.assert_array_equal(read_image(folder / "f9.png"), read_image(folder / "f1.png"))
    assert read_image(folder / "f2.png").shape == (47, 61, 3)
    out = tmp_path / "boxes.txt"
    assert main(["track", str(folder), "--box", "50,40,20,20", "--weights", str(tiny_weights), "--out", str(out)]) == 0
    boxes = read_boxes(out)
    assert len(boxes) == 5 and boxes[0] == [50, 40, 20, 20]
    assert_inside(boxes[1:], 61, 47)


def test_natural_key():
    names = ["img10.jpg", "img2.jpg", "img1.jpg", "IMG3.jpg", "a.jpg"]
    assert sorted(names, key=natural_key) == ["a.jpg", "img1.jpg", "img2.jpg", "IMG3.jpg", "img10.jpg"]


# Bad input -----------------------------------------------------------------------------------------
def run_error(args, capsys):
    code = main(["track"] + [str(a) for a in args])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "mixformerv2 track: error:" in err
    return err


@pytest.mark.parametrize("box,message", [
    ("1,2,3", "four numbers"), ("a,b,c,d", "four numbers"), ("nan,10,20,20", "non-finite"),
    ("10,10,inf,20", "non-finite"), ("10,10,0,20", "non-positive size"), ("10,10,20,-5", "non-positive size"),
    ("1000,10,20,20", "entirely outside"),
])
def test_bad_boxes(tiny_weights, tmp_path, capsys, box, message):
    folder, _ = crossing()
    out = tmp_path / "boxes.txt"
    err = run_error([folder, f"--box={box}", "--weights", tiny_weights, "--out", out], capsys)
    assert message in err
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_missing_and_unreadable_sources(tiny_weights, tmp_path, capsys):
    assert "does not exist" in run_error([tmp_path / "nope.mp4", "--box", "1,1,5,5", "--weights", tiny_weights], capsys)
    empty = tmp_path / "empty"
    empty.mkdir()
    assert "no images" in run_error([empty, "--box", "1,1,5,5", "--weights", tiny_weights], capsys)
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"this is not a video" * 100)
    assert "cannot open video" in run_error([junk, "--box", "1,1,5,5", "--weights", tiny_weights], capsys)
    assert "cannot open camera 97" in run_error(["97", "--box", "1,1,5,5", "--weights", tiny_weights], capsys)
    assert "is a directory" in run_error([crossing()[0], "--box", "1,1,5,5", "--weights", tiny_weights,
                                          "--out", tmp_path], capsys)


def test_corrupt_frame_in_an_image_folder_keeps_what_was_tracked(tiny_weights, tmp_path, capsys):
    frames, first = crossing_frames(10)
    folder = tmp_path / "seq"
    folder.mkdir()
    for i, f in enumerate(frames):
        cv2.imwrite(str(folder / f"{i + 1:04d}.jpg"), cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
    data = (folder / "0007.jpg").read_bytes()
    (folder / "0007.jpg").write_bytes(data[:20] + b"\x00" * 50)   # header kept, data destroyed
    out = tmp_path / "boxes.txt"
    err = run_error([folder, "--box", ",".join(map(str, first)), "--weights", tiny_weights, "--out", out], capsys)
    assert "frame 7 of 10 (0007.jpg)" in err and "6 frames tracked so far" in err
    boxes = read_boxes(out)
    assert len(boxes) == 6 and boxes[0] == first


def test_truncated_video_reports_the_frame_and_keeps_what_was_tracked(tiny_weights, tmp_path, capsys):
    frames, first = crossing_frames(20)
    video = tmp_path / "clip.avi"
    make_video(video, frames)
    data = video.read_bytes()
    video.write_bytes(data[:len(data) // 2])
    out, annotated = tmp_path / "boxes.txt", tmp_path / "annotated.avi"
    err = run_error([video, "--box", ",".join(map(str, first)), "--weights", tiny_weights, "--out", out,
                     "--video", annotated], capsys)
    boxes = read_boxes(out)
    assert 0 < len(boxes) < 20 and boxes[0] == first
    assert f"frame {len(boxes) + 1} of 20" in err and "corrupt or truncated" in err
    assert int(cv2.VideoCapture(str(annotated)).get(cv2.CAP_PROP_FRAME_COUNT)) == len(boxes)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []   # no temporary files left


def test_weights_of_another_model_or_none(tiny_weights, tmp_path, capsys, no_default_model):
    folder, first = crossing()
    box = ",".join(map(str, first))
    err = run_error([folder, "--box", box, "--weights", tiny_weights, "--model", "b"], capsys)
    assert "does not fit the model mixformerv2-b" in err
    err = run_error([folder, "--box", box, "--model", "s"], capsys)
    assert "weights are required" in err
    err = run_error([folder, "--box", box], capsys)
    assert "the default model is not installed" in err and "--weights PATH" in err
    other = tmp_path / "other.pth"
    save_checkpoint(build_model(dict(TINY, depth=1)), other)
    config = tmp_path / "tiny.json"
    config.write_text(__import__("json").dumps(TINY))
    err = run_error([folder, "--box", box, "--weights", other, "--model", config], capsys)
    assert "does not fit" in err and "missing keys" in err


def test_show_without_a_gui_is_a_clear_error(tiny_weights, capsys):
    try:
        cv2.namedWindow("probe")
        cv2.destroyWindow("probe")
        pytest.skip("this OpenCV build can open windows")
    except cv2.error:
        pass
    folder, first = crossing()
    err = run_error([folder, "--box", ",".join(map(str, first)), "--weights", tiny_weights, "--show"], capsys)
    assert "GUI support" in err


def test_bad_options(tiny_weights, tmp_path, capsys):
    folder, first = crossing()
    box = ",".join(map(str, first))
    assert "suffixes" in run_error([folder, "--box", box, "--weights", tiny_weights, "--video", tmp_path / "a.gif"], capsys)
    assert "--threads" in run_error([folder, "--box", box, "--weights", tiny_weights, "--threads", "0"], capsys)
    assert "unknown benchmark" in run_error([folder, "--box", box, "--weights", tiny_weights,
                                             "--benchmark-params", "imagenet"], capsys)
    assert "update_interval" in run_error([folder, "--box", box, "--weights", tiny_weights,
                                           "--update-interval", "0"], capsys)


def test_max_frames(tiny_weights, tmp_path):
    folder, first = crossing()
    out = tmp_path / "boxes.txt"
    assert main(["track", str(folder), "--box", ",".join(map(str, first)), "--weights", str(tiny_weights),
                 "--out", str(out), "--max-frames", "7", "--online-templates", "2", "--update-interval", "2",
                 "--no-padding-quirk", "--backend", "torch-full"]) == 0
    assert len(read_boxes(out)) == 7
