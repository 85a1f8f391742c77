"""NanoTrack V2 as a learned peer (OpenCV's TrackerNano): found by option or environment variable, and a clear
error naming the file when its ONNX files are missing, of another version or corrupt."""
import json
import shutil

import numpy as np
import pytest

from conftest import shared_path
from mixformerv2.cli import main
from mixformerv2.tracking.baselines import NANOTRACK_ENV, NanoTrackFilesError, OpenCVTracker, nanotrack_files


@pytest.fixture
def v2():
    return shared_path("models", "nanotrack", "v2")


def test_missing_folder_file_version_and_corrupt_files_are_named(tmp_path, v2, monkeypatch):
    monkeypatch.delenv(NANOTRACK_ENV, raising=False)
    with pytest.raises(NanoTrackFilesError, match="--nanotrack DIR .* or set MIXFORMERV2_NANOTRACK"):
        nanotrack_files()
    with pytest.raises(NanoTrackFilesError, match="does not exist"):
        nanotrack_files(tmp_path / "nowhere")
    folder = tmp_path / "nano"
    folder.mkdir()
    shutil.copy(v2 / "backbone.onnx", folder / "backbone.onnx")
    with pytest.raises(NanoTrackFilesError, match=f"{folder / 'head.onnx'} does not exist"):
        nanotrack_files(folder)
    shutil.copy(v2.parent / "v3" / "head.onnx", folder / "head.onnx")
    with pytest.raises(NanoTrackFilesError, match="is not NanoTrack V2's head.onnx.*V3 does not run"):
        nanotrack_files(folder)
    (folder / "head.onnx").write_bytes(b"\x00not an onnx graph" * 10)
    with pytest.raises(NanoTrackFilesError, match=f"{folder / 'head.onnx'} is not a readable ONNX graph"):
        nanotrack_files(folder)
    monkeypatch.setenv(NANOTRACK_ENV, str(v2))
    assert nanotrack_files().head == v2 / "head.onnx"


def test_nanotrack_tracks_a_real_sequence(v2):
    from mixformerv2.datasets import open_dataset
    from mixformerv2.tracking.run import TrackingLoop
    from mixformerv2.evaluation.metrics import iou

    seq = open_dataset("sequences", shared_path("data", "sequences"))["otb-Crossing"]
    tracker = OpenCVTracker("nanotrack", threads=1, model_dir=v2)
    loop = TrackingLoop(tracker, [seq.init_box]).run(seq.read_frame(i) for i in range(40))
    overlap = iou(loop.box_array(), seq.ground_truth[:40])
    assert overlap.mean() > 0.5 and all(0 <= s <= 1 for s in loop.scores[0][1:])
    identity = tracker.identity()
    assert identity["tracker"] == "nanotrack" and len(identity["head_sha256"]) == 64


def test_compare_puts_nanotrack_beside_the_others(tmp_path, v2, capsys):
    root = shared_path("data", "sequences")
    assert main(["compare", "--root", str(root), "--sequences", "otb-Crossing", "--tracker", "nanotrack",
                 "--tracker", "kcf", "--nanotrack", str(v2), "--threads", "1", "--results", str(tmp_path / "cmp"),
                 "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert any(line.startswith("nanotrack ") for line in out.splitlines())
    identity = json.loads((tmp_path / "cmp" / "nanotrack" / "tracker.json").read_text())
    assert identity["tracker"] == "nanotrack" and "backbone_sha256" in identity
    boxes = np.loadtxt(tmp_path / "cmp" / "nanotrack" / "otb-Crossing.txt", delimiter=",")
    assert boxes.shape == (120, 4)


def test_eval_without_the_files_stops_before_writing(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv(NANOTRACK_ENV, raising=False)
    root = shared_path("data", "sequences")
    assert main(["eval", "--dataset", "sequences", "--root", str(root), "--tracker", "nanotrack",
                 "--results", str(tmp_path / "out"), "--no-progress"]) == 2
    assert "needs NanoTrack V2's ONNX files" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
    assert main(["eval", "--dataset", "sequences", "--root", str(root), "--tracker", "kcf", "--nanotrack",
                 str(tmp_path), "--results", str(tmp_path / "out"), "--no-progress"]) == 2
    assert "--nanotrack applies to --tracker nanotrack only" in capsys.readouterr().err
