"""The bench command: same frames for every backend, the issue's JSON keys, speed-up against torch-full."""
import json

import numpy as np
import pytest
import torch

from mixformerv2 import build_model, save_checkpoint
from mixformerv2.cli import main
from mixformerv2.export.speed import frame_order, measure_matmul_peak

from conftest import shared_path

TINY = dict(embed_dim=64, depth=2, num_heads=4, mlp_ratio=2, template_size=32, search_size=64, num_bins=16)


@pytest.fixture(autouse=True)
def private_export_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MIXFORMERV2_CACHE", str(tmp_path / "cache"))


@pytest.fixture
def tiny_config(tmp_path):
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps(TINY))
    return path


def test_matmul_peak_is_measured():
    threads = torch.get_num_threads()
    assert measure_matmul_peak(1, size=256, repeats=3) > 0.5  # GFLOP/s: any CPU that runs this does more
    assert torch.get_num_threads() == threads


def test_frames_play_forth_and_back():
    assert frame_order(4, 10) == [1, 2, 3, 2, 1, 0, 1, 2, 3, 2]
    with pytest.raises(ValueError, match="at least 2 frames"):
        frame_order(1, 5)


def test_bench_reports_every_backend_on_a_real_sequence(tmp_path, tiny_config, capsys):
    sequence = shared_path("data", "sequences", "otb-Couple")
    out = tmp_path / "bench.json"
    assert main(["bench", "--model", str(tiny_config), "--threads", "1", "--frames", "12", "--warmup", "2",
                 "--source", str(sequence), "--backend", "torch,onnx", "onnx-int8", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["model"] == "custom" and report["threads"] == 1 and report["frames"] == 12
    assert report["peak_gflops"] > 0 and report["weights"] == "random (seed 0)"
    assert list(report["backends"]) == ["torch-full", "torch", "onnx", "onnx-int8"]
    for name, entry in report["backends"].items():
        assert {"median_ms", "p90_ms", "fps", "speedup_vs_torch_full"} <= set(entry)
        assert entry["p90_ms"] >= entry["median_ms"] > 0
        assert entry["fps"] == pytest.approx(1e3 / entry["median_ms"], rel=1e-2)
    assert report["backends"]["torch-full"]["speedup_vs_torch_full"] == 1.0
    assert report["backends"]["onnx"]["iou_vs"] == "torch" and report["backends"]["onnx"]["min_iou"] >= 0.999
    assert report["backends"]["onnx-int8"]["iou_vs"] == "onnx"
    gmacs = {name: e["gmacs_per_frame"] for name, e in report["backends"].items()}
    assert gmacs["torch-full"] > gmacs["torch"] == gmacs["onnx"]
    printed = capsys.readouterr().out
    assert "speed-up" in printed and "onnx-int8" in printed


def test_bench_on_the_sample_clip(tiny_config, capsys):
    assert main(["bench", "--model", str(tiny_config), "--threads", "1", "--frames", "3", "--warmup", "0",
                 "--backend", "torch"]) == 0
    assert "sample clip" in capsys.readouterr().out


def test_bench_bad_input(tmp_path, tiny_config, capsys):
    assert main(["bench", "--model", str(tiny_config), "--backend", "nope"]) == 2
    assert "unknown backend(s) nope" in capsys.readouterr().err
    assert main(["bench", "--model", str(tiny_config), "--threads", "0"]) == 2
    assert "--threads" in capsys.readouterr().err
    frames = tmp_path / "frames"
    frames.mkdir()
    import cv2

    for i in range(3):
        cv2.imwrite(str(frames / f"{i:04d}.png"), np.full((40, 50, 3), 60 * i, np.uint8))
    assert main(["bench", "--model", str(tiny_config), "--source", str(frames), "--frames", "2"]) == 2
    assert "--box" in capsys.readouterr().err


def test_track_command_with_the_int8_backend(tmp_path):
    torch.manual_seed(0)
    weights = tmp_path / "tiny.safetensors"
    save_checkpoint(build_model(TINY), weights)
    sequence = shared_path("data", "sequences", "vot2015-ball1")
    out = tmp_path / "boxes.txt"
    assert main(["track", str(sequence), "--box", "492,417,47,46", "--weights", str(weights),
                 "--backend", "onnx-int8", "--threads", "1", "--max-frames", "8", "--out", str(out)]) == 0
    rows = [line.split(",") for line in out.read_text().splitlines()]
    assert len(rows) == 8 and all(len(r) == 4 for r in rows)
