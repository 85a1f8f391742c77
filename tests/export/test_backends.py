"""The ONNX Runtime tracker backends follow the PyTorch tracker on a real sequence."""
import numpy as np
import pytest
import torch

from mixformerv2 import build_model
from mixformerv2.export import OnnxBackend, OnnxInt8Backend, export_onnx
from mixformerv2.evaluation.metrics import iou as iou_xywh
from mixformerv2.export.cache import cached_export, model_fingerprint
from mixformerv2.export.quantize import quantize_search_step
from mixformerv2.tracking import Tracker, TrackerParams, available_backends
from mixformerv2.tracking.backends import TorchBackend
from mixformerv2.tracking.sources import open_source

from conftest import shared_path

TINY = dict(embed_dim=64, depth=2, num_heads=4, mlp_ratio=2, template_size=32, search_size=64, num_bins=16)


@pytest.fixture(autouse=True)
def private_export_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MIXFORMERV2_CACHE", str(tmp_path / "cache"))


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return build_model(TINY).eval()


def real_sequence(name="otb-Crossing", limit=None):
    folder = shared_path("data", "sequences", name)
    with open_source(folder) as source:
        frames = [f for _, f in zip(range(limit or 10**9), source)]
    first = (folder / "groundtruth_rect.txt").read_text().splitlines()[0]
    box = [float(v) for v in first.replace(",", " ").split()]
    return frames, box


def track(model, backend, frames, box, params=None):
    tracker = Tracker(model, params, backend=backend, threads=1)
    tracker.init(frames[0], box)
    results = [tracker.update(f) for f in frames[1:]]
    return np.array([r.box for r in results]), np.array([r.score for r in results])


def test_onnx_backends_are_registered():
    assert {"onnx", "onnx-int8"} <= set(available_backends())


def test_float32_onnx_tracks_like_torch_on_a_real_sequence(model):
    frames, box = real_sequence()
    params = TrackerParams(update_interval=10, score_threshold=0.0)  # several template re-encodings
    torch_boxes, torch_scores = track(model, "torch", frames, box, params)
    onnx_boxes, onnx_scores = track(model, "onnx", frames, box, params)
    ious = iou_xywh(onnx_boxes, torch_boxes)
    assert len(ious) == len(frames) - 1 and ious.min() >= 0.999
    np.testing.assert_allclose(onnx_scores, torch_scores, atol=1e-4)


def test_int8_backend_tracks_a_real_sequence(model):
    """Random weights make a drifting tracker, so int8 and float32 trajectories part ways over time (the
    bench command reports the per-frame IoU); on the first frame both see the same crop."""
    frames, box = real_sequence(limit=40)
    fp32_boxes, _ = track(model, "onnx", frames, box)
    int8_boxes, int8_scores = track(model, "onnx-int8", frames, box)
    assert np.isfinite(int8_boxes).all() and np.isfinite(int8_scores).all()
    assert iou_xywh(int8_boxes[:1], fp32_boxes[:1])[0] > 0.9


def test_several_targets_and_partial_re_encoding_match_torch(model):
    rng = np.random.default_rng(0)
    template = rng.standard_normal((3, 3, 32, 32)).astype(np.float32)
    online = rng.standard_normal((3, 2, 3, 32, 32)).astype(np.float32)
    search = rng.standard_normal((3, 3, 64, 64)).astype(np.float32)
    ref, fast = TorchBackend(model), OnnxBackend(model)
    online2 = online.copy()
    online2[1] = rng.standard_normal((2, 3, 32, 32))
    caches = [(b, b.reencode(b.encode(template, online), [1], template, online2)) for b in (ref, fast)]
    (ref_boxes, ref_scores), (boxes, scores) = [b.search(c, search) for b, c in caches]
    np.testing.assert_allclose(boxes, ref_boxes, atol=1e-4)
    np.testing.assert_allclose(scores, ref_scores, atol=1e-4)
    sub_ref = ref.search(ref.select(caches[0][1], [2, 0]), search[[2, 0]])
    sub = fast.search(fast.select(caches[1][1], [2, 0]), search[[2, 0]])
    np.testing.assert_allclose(sub[0], sub_ref[0], atol=1e-4)


def test_export_cache_is_reused_and_keyed_by_weights(model):
    first = cached_export(model)
    stamp = (first / "search_step.onnx").stat().st_mtime_ns
    assert cached_export(model) == first and (first / "search_step.onnx").stat().st_mtime_ns == stamp
    assert not (first / "search_step.int8.onnx").exists()
    assert (cached_export(model, int8=True) / "search_step.int8.onnx").is_file()
    torch.manual_seed(1)
    other = build_model(TINY).eval()
    assert model_fingerprint(other) != model_fingerprint(model) and cached_export(other) != first


def test_backend_from_an_export_directory_needs_no_pytorch_model(model, tmp_path):
    export_onnx(model, tmp_path / "onnx", check=False)
    quantize_search_step(tmp_path / "onnx")
    frames, box = real_sequence(limit=6)
    for backend in (OnnxBackend(export_dir=tmp_path / "onnx"), OnnxInt8Backend(export_dir=tmp_path / "onnx")):
        tracker = Tracker(None, backend=backend)
        tracker.init(frames[0], box)
        assert all(np.isfinite(tracker.update(f).box).all() for f in frames[1:])


def test_teacher_without_score_head_tracks_with_onnx(tmp_path, monkeypatch):
    """The MixViT teacher's graphs have no score output: the ONNX backends give NaN scores, float32 the same
    boxes as torch; int8 quantizes its graph too."""
    monkeypatch.chdir(tmp_path)
    torch.manual_seed(0)
    teacher = build_model(dict(TINY, head="corner")).eval()
    frames, box = real_sequence(limit=5)
    boxes = {}
    for backend in ("torch", OnnxBackend(teacher), OnnxInt8Backend(teacher)):
        tracker = Tracker(teacher, backend=backend)
        tracker.init(frames[0], box)
        results = [tracker.update(f) for f in frames[1:]]
        assert all(np.isnan(r.score) for r in results)
        boxes[backend if isinstance(backend, str) else backend.name] = np.array([r.box for r in results])
    np.testing.assert_allclose(boxes["onnx"], boxes["torch"], atol=0.05)
    assert np.isfinite(boxes["onnx-int8"]).all()     # quantized (the corner head's graph needs the fallback)
    assert [p.name for p in tmp_path.iterdir()] == ["cache"]   # nothing left in the working directory


@pytest.mark.slow
def test_small_model_onnx_tracks_like_torch_on_a_real_sequence():
    """MixFormerV2-S (random weights), float32 ONNX against the cached PyTorch tracker: IoU >= 0.999 per frame."""
    torch.manual_seed(0)
    small = build_model("mixformerv2-s").eval()
    frames, box = real_sequence("otb-Couple")
    torch_boxes, _ = track(small, "torch", frames, box)
    onnx_boxes, _ = track(small, "onnx", frames, box)
    assert iou_xywh(onnx_boxes, torch_boxes).min() >= 0.999
