"""`mixformerv2 compare` and `eval --tracker`: MixFormerV2 and OpenCV trackers side by side, resumable."""
import json
import re

import numpy as np
import pytest

from conftest import shared_path
from mixformerv2.cli import main

from datasets.test_folders import make_mixed
from datasets.layouts import boxes_text, moving_boxes, write_frames

TINY = dict(embed_dim=64, depth=1, num_heads=4, mlp_ratio=1, template_size=32, search_size=64, num_bins=8)


def _weights(path, seed):
    import torch

    from mixformerv2 import build_model, save_checkpoint

    torch.manual_seed(seed)
    save_checkpoint(build_model(TINY), path)
    return path


@pytest.fixture(scope="module")
def tiny_weights(tmp_path_factory):
    return _weights(tmp_path_factory.mktemp("weights") / "tiny.safetensors", 0)


def _compare(root, results, *extra):
    return main(["compare", "--root", str(root), "--results", str(results), "--threads", "1", "--no-progress",
                 *extra])


def _mtimes(folder):
    return {str(p.relative_to(folder)): p.stat().st_mtime_ns for p in sorted(folder.rglob("*.txt"))}


def _row(out, name):
    line = next(line for line in out.splitlines() if line.startswith(name + " "))
    return [float(v) for v in line.split()[1:]]


def test_compare_on_a_real_sequence_prints_writes_and_agrees_with_score(tmp_path, tiny_weights, capsys):
    root = shared_path("data", "sequences")
    results = tmp_path / "runs"
    assert _compare(root, results, "--sequences", "otb-Crossing", "--tracker", "mixformerv2", "--weights",
                    str(tiny_weights), "--tracker", "KCF", "--json", str(tmp_path / "out.json"),
                    "--plot", str(tmp_path / "curves.png")) == 0
    out = capsys.readouterr().out
    assert re.search(r"sequences at .*: 1 sequences, convention 'ope', 1 thread;", out)
    mix, kcf = _row(out, "mixformerv2"), _row(out, "kcf")
    assert len(mix) == len(kcf) == 4 and all(0 <= v <= 1 for v in mix[:3] + kcf[:3]) and mix[3] > 0 and kcf[3] > 0
    per_sequence = next(line for line in out.splitlines() if line.startswith("otb-Crossing"))
    assert per_sequence.split()[1] == "120"
    # community-format results per tracker, one line per frame, and which tracker made them
    for name in ("mixformerv2", "kcf"):
        boxes = np.loadtxt(results / name / "otb-Crossing.txt", delimiter=",")
        times = np.loadtxt(results / name / "otb-Crossing_time.txt")
        assert boxes.shape == (120, 4) and times.shape == (120,) and (times > 0).all()
        np.testing.assert_allclose(boxes[0], [205, 151, 17, 50])
    assert json.loads((results / "kcf" / "tracker.json").read_text())["tracker"] == "kcf"
    report = json.loads((tmp_path / "out.json").read_text())
    assert report["dataset"] == "sequences" and report["threads"] == 1 and report["sequence_names"] == ["otb-Crossing"]
    assert list(report["trackers"]) == ["mixformerv2", "kcf"]
    for name, row in (("mixformerv2", mix), ("kcf", kcf)):
        entry = report["trackers"][name]
        assert [round(entry[k], 3) for k in ("auc", "precision", "norm_precision")] == row[:3]
        assert entry["fps"] == pytest.approx(row[3], abs=0.06)
        seq = entry["per_sequence"]["otb-Crossing"]
        assert seq["auc"] == pytest.approx(entry["auc"]) and seq["fps"] == pytest.approx(entry["fps"], rel=1e-3)
        assert entry["results"] == str(results / name)
    assert len(report["trackers"]["mixformerv2"]["identity"]["weights_sha256"]) == 64
    assert (tmp_path / "curves.png").stat().st_size > 10_000
    # the score command reads the same folders and gives the same numbers
    assert main(["score", "--dataset", "sequences", "--root", str(root), "--sequences", "otb-Crossing", "--results",
                 str(results / "kcf"), "--no-attributes"]) == 0
    assert f"{kcf[0]:9.3f}" in capsys.readouterr().out


def test_compare_resumes_and_refuses_results_of_other_weights(tmp_path, tiny_weights, capsys):
    root = make_mixed(tmp_path / "mixed")
    results = tmp_path / "runs"
    args = ["--tracker", "csrt", "--tracker", "mixformerv2", "--weights", str(tiny_weights)]
    assert _compare(root, results, *args) == 0
    first = capsys.readouterr().out
    assert "5 sequences" in first and "earlier results" not in first
    before = _mtimes(results)
    assert len(before) == 2 * 2 * 5
    assert _compare(root, results, *args) == 0        # everything finished: nothing tracked again
    second = capsys.readouterr().out
    assert _mtimes(results) == before
    assert "csrt: 5 sequence(s) from earlier results" in second
    assert _row(second, "csrt")[:3] == _row(first, "csrt")[:3]
    other = _weights(tmp_path / "other.safetensors", 1)
    other_args = ["--tracker", "csrt", "--tracker", "mixformerv2", "--weights", str(other)]
    assert _compare(root, results, *other_args) == 2
    err = capsys.readouterr().err
    assert "mixformerv2 compare: error: results folder" in err and "weights_sha256" in err and "--overwrite" in err
    assert _mtimes(results) == before
    assert _compare(root, results, *other_args, "--overwrite") == 0
    after = _mtimes(results)
    assert all(after[k] != before[k] for k in before)


def test_a_sequence_that_fails_is_reported_and_left_out(tmp_path, tiny_weights, capsys):
    root = make_mixed(tmp_path / "mixed")
    (root / "otb-Walk" / "img" / "0003.jpg").write_bytes(b"not a jpeg")
    assert _compare(root, tmp_path / "runs", "--tracker", "kcf", "--tracker", "medianflow") == 1
    out = capsys.readouterr().out
    assert "4 sequences" in out and "kcf failed on otb-Walk: cannot read image" in out
    assert not (tmp_path / "runs" / "kcf" / "otb-Walk.txt").exists()


@pytest.mark.parametrize("extra, message", [
    (["--tracker", "goturn"], "unknown tracker 'goturn'"),
    (["--tracker", "kcf", "--weights", "w.pth"], "--weights apply to the mixformerv2 tracker only"),
    (["--tracker", "kcf", "--tracker", "KCF"], "'kcf' is named twice"),
    (["--tracker", "mixformerv2"], "default model is not installed"),
    (["--tracker", "kcf", "--plot", "curves.txt"], "must end in .png"),
    (["--tracker", "kcf", "--threads", "0"], "--threads must be >= 1"),
])
def test_bad_input_stops_before_anything_is_written(tmp_path, capsys, extra, message, no_default_model):
    root = make_mixed(tmp_path / "mixed")
    args = ["compare", "--root", str(root), "--results", str(tmp_path / "runs"), "--no-progress", *extra]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("mixformerv2 compare: error:") and message in err
    assert not (tmp_path / "runs").exists()


def test_eval_runs_an_opencv_tracker_into_its_own_folder(tmp_path, capsys):
    root = make_mixed(tmp_path / "mixed")
    results = tmp_path / "csrt"

    def run(*extra):
        return main(["eval", "--dataset", "sequences", "--root", str(root), "--results", str(results),
                     "--no-progress", "--threads", "1", *extra])

    assert run("--tracker", "csrt") == 0
    out = capsys.readouterr().out
    assert "5 tracked, 0 failed" in out and "sequences: 5 sequences" in out
    assert np.loadtxt(results / "vot-ball.txt", delimiter=",").shape == (3, 4)
    identity = json.loads((results / "tracker.json").read_text())
    assert identity["tracker"] == "csrt" and "opencv" in identity
    assert run("--tracker", "kcf") == 2
    assert "holds results of another tracker configuration (tracker: csrt there, kcf now" in capsys.readouterr().err
    assert run("--tracker", "csrt", "--weights", "w.pth") == 2
    assert "apply to the mixformerv2 tracker only" in capsys.readouterr().err


def test_compare_on_got10k_prints_what_the_convention_has(tmp_path, capsys):
    """GOT-10k scores have no precision: the table shows AO / SR0.5 / SR0.75 (it ended in a traceback)."""
    val = tmp_path / "GOT10k" / "val"
    for i in (1, 2):
        folder = val / f"GOT-10k_Val_{i:06d}"
        write_frames(folder, 6)
        (folder / "groundtruth.txt").write_text(boxes_text(moving_boxes(6)))
    (val / "list.txt").write_text("GOT-10k_Val_000001\nGOT-10k_Val_000002\n")
    assert _compare(tmp_path / "GOT10k", tmp_path / "runs", "--dataset", "got10k", "--split", "val",
                    "--tracker", "kcf") == 0
    out = capsys.readouterr().out
    header = next(line for line in out.splitlines() if line.startswith("tracker "))
    assert header.split() == ["tracker", "AO", "SR0.5", "SR0.75", "FPS"]
    ao, sr50, sr75, fps = _row(out, "kcf")
    assert 0 <= sr75 <= sr50 <= 1 and 0 <= ao <= 1 and fps > 0
    assert "AO per sequence:" in out
