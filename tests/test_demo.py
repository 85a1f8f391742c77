"""`mixformerv2 demo` end to end with a tiny random-weights default model: the clip, the track outputs, the
scores, the summary; identical clip files in a second run; a clear error without the default model."""
import hashlib
import json

import cv2
import numpy as np

from mixformerv2.cli import main
from mixformerv2.data.sample_clip import sample_clip
from mixformerv2.evaluation.metrics import score_sequence

FRAMES = 30


def sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def video_frames(path):
    capture = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    return frames


def test_demo_makes_tracks_writes_and_scores_the_clip(default_model, tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--frames", str(FRAMES)]) == 0
    printed = capsys.readouterr().out
    assert f"sample clip: {FRAMES} frames, 480x360" in printed and f"tracked {FRAMES} frames" in printed
    assert "success AUC" in printed and "tracker step" in printed
    assert {p.name for p in out.iterdir()} == {"clip.mp4", "groundtruth.txt", "clip.json", "boxes.txt",
                                               "tracked.mp4", "summary.json"}
    clip = sample_clip(FRAMES)
    # The clip on disk: the generated frames (lossy mp4) and the exact ground truth.
    frames = video_frames(out / "clip.mp4")
    assert len(frames) == FRAMES and frames[0].shape == (360, 480, 3)
    original = cv2.cvtColor(clip.frame(FRAMES - 1), cv2.COLOR_RGB2BGR).astype(float)
    assert np.abs(frames[-1].astype(float) - original).mean() < 6
    assert (out / "groundtruth.txt").read_text() == clip.groundtruth_text()
    info = json.loads((out / "clip.json").read_text())
    assert info["groundtruth_sha256"] == sha256(out / "groundtruth.txt") and info["frames"] == FRAMES
    # The track command's outputs: one box per frame starting at the first ground-truth box, an annotated video.
    boxes = np.loadtxt(out / "boxes.txt", delimiter=",")
    assert boxes.shape == (FRAMES, 4) and np.allclose(boxes[0], clip.boxes[0], atol=1e-3)
    annotated = video_frames(out / "tracked.mp4")
    assert len(annotated) == FRAMES and np.abs(annotated[0].astype(float) - frames[0].astype(float)).max() > 100
    # The summary: the scores of the written boxes against the written ground truth.
    summary = json.loads((out / "summary.json").read_text())
    gt = np.loadtxt(out / "groundtruth.txt", delimiter=",")
    expected = score_sequence("lasot", boxes, gt, visible=clip.visible).summary("lasot")
    assert abs(summary["auc"] - expected["auc"]) < 2e-3 and abs(summary["precision"] - expected["precision"]) < 2e-3
    assert summary["frames"] == FRAMES and summary["tracker_step_fps"] > 0 and summary["threads"] == 1
    assert summary["model"]["name"] == "default" and summary["weights"] == f"default ({default_model})"
    assert summary["clip"] == info

    # A second run writes the very same clip files.
    again = tmp_path / "again"
    assert main(["demo", "--out", str(again), "--frames", str(FRAMES)]) == 0
    for name in ("clip.mp4", "groundtruth.txt", "clip.json"):
        assert sha256(again / name) == sha256(out / name), name


def test_demo_with_explicit_weights_and_bad_options(tiny_weights_file, tmp_path, capsys, no_default_model):
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--frames", "8", "--weights", str(tiny_weights_file)]) == 0
    assert json.loads((out / "summary.json").read_text())["weights"] == str(tiny_weights_file)
    capsys.readouterr()
    assert main(["demo", "--out", str(tmp_path / "x"), "--frames", "1", "--weights", str(tiny_weights_file)]) == 2
    assert "the sample clip has 2 to 300 frames" in capsys.readouterr().err
    (tmp_path / "file").write_text("")
    assert main(["demo", "--out", str(tmp_path / "file")]) == 2
    assert "is not a folder" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
