"""--backend auto: the fastest backend whose boxes agree with float32, measured once per machine and model and
cached; a backend whose boxes differ is never chosen; the choice is explained."""
import numpy as np
import pytest
import torch

from mixformerv2 import build_model
from mixformerv2.cli import main
from mixformerv2.export import auto
from mixformerv2.export.cpu import cpu_features, isa_summary, matmul_peak
from mixformerv2.tracking import backends as backend_registry

TINY = dict(embed_dim=64, depth=2, num_heads=4, mlp_ratio=1, template_size=32, search_size=64, num_bins=16)


@pytest.fixture
def tiny():
    torch.manual_seed(0)
    return build_model(TINY).eval()


def test_choice_is_measured_once_then_cached(tiny):
    first = auto.choose_backend(tiny, threads=1)
    assert first.backend in first.candidates and not first.cached
    assert set(first.candidates) >= {"torch", "onnx", "onnx-int8"}
    assert first.candidates["torch"]["mean_iou"] == 1.0
    assert first.candidates["onnx"]["mean_iou"] > 0.999              # float32 ONNX Runtime agrees
    fastest_accurate = min((n for n in first.candidates if n not in first.rejected),
                           key=lambda n: first.candidates[n]["median_ms"])
    assert first.backend == fastest_accurate
    second = auto.choose_backend(tiny, threads=1)
    assert second.cached and second.backend == first.backend and second.cache_file == first.cache_file
    assert "backend auto: " + first.backend in second.explain() and "cached" in second.explain()


def test_a_backend_whose_boxes_differ_is_never_chosen(tiny, monkeypatch):
    class Shifted(backend_registry.TorchBackend):
        """Instant but wrong: boxes shifted by a quarter of the crop."""
        name = "shifted"

        def search(self, cache, search):
            boxes, scores = super().search(cache, search)
            return boxes + np.array([0.25, 0, 0, 0], np.float32), scores

    monkeypatch.setitem(backend_registry._REGISTRY, "shifted", Shifted)
    choice = auto.measure_backends(tiny, 1, ["torch", "shifted"])
    assert choice.backend == "torch"
    assert "shifted" in choice.rejected and "boxes differ from float32" in choice.rejected["shifted"]
    assert "shifted not used: boxes differ" in choice.explain()


def test_track_with_backend_auto_says_what_it_chose(tmp_path, capsys):
    from mixformerv2 import save_checkpoint

    torch.manual_seed(1)
    weights = tmp_path / "tiny.safetensors"
    save_checkpoint(build_model(TINY).eval(), weights)
    frames = tmp_path / "frames"
    frames.mkdir()
    import cv2

    rng = np.random.default_rng(0)
    for i in range(4):
        cv2.imwrite(str(frames / f"{i}.png"), rng.integers(0, 256, (60, 80, 3), dtype=np.uint8))
    assert main(["track", str(frames), "--box", "20,20,20,20", "--weights", str(weights), "--backend", "auto",
                 "--threads", "1", "--out", str(tmp_path / "b.txt")]) == 0
    captured = capsys.readouterr()
    assert "backend auto: " in captured.err
    chosen = captured.err.split("backend auto: ")[1].split(" ")[0]
    assert f"(backend {chosen}," in captured.out


def test_cpu_report():
    features = cpu_features()
    assert isinstance(features["model_name"], str)
    summary = isa_summary()
    assert summary.startswith("none of") or "AVX" in summary or "AMX" in summary
    assert matmul_peak("float32", 1, size=128, repeats=2) > 0
    peak = matmul_peak("bfloat16", 1, size=128, repeats=2)
    assert peak > 0 or np.isnan(peak)


def test_installing_another_backend_measures_again(tiny, monkeypatch):
    before = auto.cache_file_for(tiny, 1)
    monkeypatch.setattr(auto, "candidate_backends", lambda: ["torch", "onnx", "onnx-int8", "openvino-bf16"])
    assert auto.cache_file_for(tiny, 1) != before
