"""The Tracker facade: a synthetic clip, multi-target batching, backends, frame formats and bad input."""
import math

import numpy as np
import pytest
import torch

from mixformerv2 import CheckpointError, ModelConfig, Tracker, TrackerParams, TrackResult, build_model, save_checkpoint
from mixformerv2.model.hub import WeightsRequiredError
from mixformerv2.tracking import available_backends, register_backend
from mixformerv2.tracking.backends import TorchBackend

from .conftest import TINY, MatchingBackend

skimage_data = pytest.importorskip("skimage.data")

PATCH = 36


def synthetic_clip(num_frames=70, height=361, width=479):
    """A textured patch (a cat's face) moving over a photo (the astronaut), leaving the frame on the right
    completely (frames 33-38) and coming back. Returns frames and the true boxes (x, y, w, h)."""
    photo = skimage_data.astronaut()[:height, :width].copy()
    cat = skimage_data.chelsea()
    patch = cat[60:60 + 3 * PATCH:3, 140:140 + 3 * PATCH:3].copy()
    frames, boxes = [], []
    for i in range(num_frames):
        x = 150 + 10 * i if i < 36 else 500 - 10 * (i - 35)      # right until x = 500, then back
        y = int(150 + 40 * math.sin(i / 8))
        frame = photo.copy()
        visible = max(0, min(PATCH, width - x))
        frame[y:y + PATCH, x:x + visible] = patch[:, :visible]
        frames.append(frame)
        boxes.append((float(x), float(y), float(PATCH), float(PATCH)))
    return frames, boxes


def test_tracks_a_patch_over_a_photo_through_leaving_and_returning():
    config = ModelConfig(embed_dim=64, depth=1, num_heads=4, mlp_ratio=1, template_size=64, search_size=128)
    params = TrackerParams(search_factor=4.0, update_interval=10)
    tracker = Tracker(None, params, backend=MatchingBackend(config, 2.0, 4.0))
    frames, truth = synthetic_clip()
    tracker.init(frames[0], truth[0])
    height, width = frames[0].shape[:2]
    for i in range(1, len(frames)):
        result = tracker.update(frames[i])
        assert isinstance(result, TrackResult) and result.time > 0
        x, y, w, h = result.box
        assert 0 <= x and 0 <= y and x + w <= width + 1e-9 and y + h <= height + 1e-9   # clipped into the frame
        tx, ty, tw, th = truth[i]
        if tx + tw <= width:   # fully visible: the centre is found within 2 px
            assert abs(x + w / 2 - (tx + tw / 2)) <= 2.0 and abs(y + h / 2 - (ty + th / 2)) <= 2.0, i
            assert abs(w - tw) <= 2.0 and abs(h - th) <= 2.0
    assert sum(t[0] >= width for t in truth) >= 4 and tracker.frame_index == len(frames) - 1


def test_batched_targets_equal_separate_single_target_runs(tiny_model):
    frames, truth = synthetic_clip(num_frames=12)
    boxes = [truth[0], (60.0, 40.0, 50.0, 30.0), (400.0, 300.0, 70.0, 55.0)]
    for k in (1, 2):
        params = TrackerParams(search_factor=4.5, update_interval=3, online_templates=k)
        batched = Tracker(tiny_model, params)
        batched.init(frames[0], boxes)
        singles = [Tracker(tiny_model, params) for _ in boxes]
        for tracker, box in zip(singles, boxes):
            tracker.init(frames[0], box)
        for frame in frames[1:]:
            together = batched.update(frame)
            alone = [tracker.update(frame) for tracker in singles]
            assert len(together) == len(boxes)
            for a, b in zip(together, alone):
                np.testing.assert_allclose(a.box, b.box, atol=1e-3)
                assert a.score == pytest.approx(b.score, abs=1e-4)
                assert a.time == together[0].time      # one batched step
        assert batched.timings.template_encodings == singles[0].timings.template_encodings > 0


@pytest.mark.parametrize("online_templates", [1, 3])
def test_cached_backend_equals_the_official_full_forward(tiny_model, online_templates):
    frames, truth = synthetic_clip(num_frames=10)
    params = TrackerParams(update_interval=2, online_templates=online_templates, score_threshold=0.0)
    runs = {}
    for backend in ("torch", "torch-full"):
        tracker = Tracker(tiny_model, params, backend=backend)
        tracker.init(frames[0], [truth[0], (10.0, 10.0, 40.0, 40.0)])
        runs[backend] = [tracker.update(f) for f in frames[1:]]
    for cached, full in zip(runs["torch"], runs["torch-full"]):
        for a, b in zip(cached, full):
            np.testing.assert_allclose(a.box, b.box, atol=1e-3)
            assert a.score == pytest.approx(b.score, abs=1e-5)


def test_templates_are_encoded_only_when_they_change(tiny_model):
    frames, truth = synthetic_clip(num_frames=9)
    calls = []

    class Counting(TorchBackend):
        def encode(self, template, online):
            calls.append(template.shape[0])
            return super().encode(template, online)

    # threshold 1.0: no frame is ever confident, so every update keeps the first-frame template
    tracker = Tracker(tiny_model, TrackerParams(update_interval=2, score_threshold=1.0), backend=Counting(tiny_model))
    tracker.init(frames[0], truth[0])
    for f in frames[1:]:
        tracker.update(f)
    assert calls == [1] and tracker.timings.template_encodings == 0
    # threshold 0: every interval brings a new candidate
    calls.clear()
    tracker = Tracker(tiny_model, TrackerParams(update_interval=2, score_threshold=0.0), backend=Counting(tiny_model))
    tracker.init(frames[0], truth[0])
    for f in frames[1:]:
        tracker.update(f)
    assert calls == [1] * 5 and tracker.timings.template_encodings == 4


def test_only_changed_targets_are_re_encoded(tiny_model):
    backend = TorchBackend(tiny_model)
    rng = np.random.default_rng(0)
    template = rng.standard_normal((3, 3, 32, 32)).astype(np.float32)
    online = rng.standard_normal((3, 1, 3, 32, 32)).astype(np.float32)
    cache = backend.encode(template, online)
    online2 = online.copy()
    online2[1] = rng.standard_normal((1, 3, 32, 32))
    partial = backend.reencode(cache, [1], template, online2)
    full = backend.encode(template, online2)
    assert torch.allclose(partial.keys, full.keys, atol=1e-6) and torch.allclose(partial.values, full.values, atol=1e-6)
    assert torch.equal(partial.keys[:, 0], cache.keys[:, 0])
    sub = backend.select(full, [2, 0])
    assert torch.equal(sub.keys[:, 0], full.keys[:, 2])


def test_remove_a_target(tiny_model):
    frames, truth = synthetic_clip(num_frames=4)
    boxes = [truth[0], (60.0, 40.0, 50.0, 30.0)]
    tracker = Tracker(tiny_model, TrackerParams(update_interval=2))
    tracker.init(frames[0], boxes)
    single = Tracker(tiny_model, TrackerParams(update_interval=2))
    single.init(frames[0], [boxes[1]])
    tracker.update(frames[1]), single.update(frames[1])
    tracker.remove(0)
    assert tracker.num_targets == 1
    for f in frames[2:]:
        np.testing.assert_allclose(tracker.update(f)[0].box, single.update(f)[0].box, atol=1e-3)
    with pytest.raises(IndexError):
        tracker.remove(5)


# Frame formats -------------------------------------------------------------------------------------
def _track(model, frames, box, **params):
    tracker = Tracker(model, TrackerParams(update_interval=2, **params))
    tracker.init(frames[0], box)
    return [tracker.update(f) for f in frames[1:]]


def test_grayscale_rgba_and_16_bit_frames(tiny_model):
    frames, truth = synthetic_clip(num_frames=5)
    gray = [f.mean(axis=2).astype(np.uint8) for f in frames]
    as_rgb = _track(tiny_model, [np.repeat(g[:, :, None], 3, axis=2) for g in gray], truth[0])
    for variant in (gray, [g[:, :, None] for g in gray]):
        assert [r.box for r in _track(tiny_model, variant, truth[0])] == [r.box for r in as_rgb]
    reference = _track(tiny_model, frames, truth[0])
    rgba = [np.dstack([f, np.full(f.shape[:2], 9, np.uint8)]) for f in frames]
    assert [r.box for r in _track(tiny_model, rgba, truth[0])] == [r.box for r in reference]
    deep = [f.astype(np.uint16) * 257 for f in frames]    # 16-bit, full range
    assert [r.box for r in _track(tiny_model, deep, truth[0])] == [r.box for r in reference]


def test_tiny_and_odd_frames_and_a_target_leaving_the_frame(tiny_model):
    rng = np.random.default_rng(3)
    for height, width in ((5, 7), (1, 1), (33, 17), (241, 359)):
        frames = [rng.integers(0, 256, (height, width, 3), dtype=np.uint8) for _ in range(6)]
        results = _track(tiny_model, frames, (0.0, 0.0, min(width, 3), min(height, 3)))
        for r in results:
            x, y, w, h = r.box
            assert all(math.isfinite(v) for v in r.box) and w >= 10 and h >= 10
            assert x <= max(width - 10, 0) and x + w >= min(10, width) and 0 <= r.score <= 1
    # a box that hangs over the border at the start (only partly inside) is valid
    frames = [rng.integers(0, 256, (120, 160, 3), dtype=np.uint8) for _ in range(4)]
    for r in _track(tiny_model, frames, (150.0, 110.0, 40.0, 40.0)):
        x, y, w, h = r.box
        assert 0 <= x <= 150 and 0 <= y <= 110 and x + w <= 160 and y + h <= 120


def test_padding_quirk_can_be_turned_off(tiny_model):
    frames, _ = synthetic_clip(num_frames=2)
    box = (440.0, 330.0, 12.0, 12.0)   # the search crop (side 54) passes the right and bottom borders
    crops = {}
    for quirk in (True, False):
        tracker = Tracker(tiny_model, TrackerParams(far_side_padding_quirk=quirk, search_factor=4.5))
        tracker.init(frames[0], box)
        tracker.update(frames[1])
        crops[quirk] = tracker._search[0].copy()
    assert not np.array_equal(crops[True], crops[False])


# Bad input -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("box,message", [
    ((10, 10, 0, 5), "non-positive size"),
    ((10, 10, 5, -1), "non-positive size"),
    ((float("nan"), 10, 5, 5), "non-finite"),
    ((10, 10, float("inf"), 5), "non-finite"),
    ((500, 10, 5, 5), "entirely outside"),
    ((-20, 10, 20, 5), "entirely outside"),
    ((10, 10, 5), "shape"),
    ("abc", "box must be"),
])
def test_bad_boxes_are_rejected(tiny_model, box, message):
    tracker = Tracker(tiny_model)
    with pytest.raises(ValueError, match=message):
        tracker.init(np.zeros((100, 200, 3), np.uint8), box)


def test_bad_box_among_several_is_named(tiny_model):
    with pytest.raises(ValueError, match="box 2 .*non-positive"):
        Tracker(tiny_model).init(np.zeros((100, 200, 3), np.uint8), [(1, 1, 5, 5), (1, 1, 0, 5)])


@pytest.mark.parametrize("frame,message", [
    (np.zeros((10, 10, 3), np.float32), "multiply by 255"),
    (np.zeros((10, 10, 2), np.uint8), "shape"),
    (np.zeros((0, 10, 3), np.uint8), "empty"),
    (np.zeros((10,), np.uint8), "shape"),
    (np.zeros((10, 10, 3), np.int64), "uint8 or uint16"),
])
def test_bad_frames_are_rejected(tiny_model, frame, message):
    with pytest.raises(ValueError, match=message):
        Tracker(tiny_model).init(frame, (1, 1, 5, 5))


def test_update_before_init(tiny_model):
    with pytest.raises(RuntimeError, match="init"):
        Tracker(tiny_model).update(np.zeros((10, 10, 3), np.uint8))


def test_teacher_without_score_head_tracks_and_keeps_its_first_template():
    """A MixViT (corner head, no score head): boxes inside the frame, NaN scores, the online template stays
    the first frame's (no frame is ever confident), and both torch backends agree."""
    torch.manual_seed(0)
    teacher = build_model(dict(TINY, head="corner")).eval()
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 255, (90, 120, 3), dtype=np.uint8) for _ in range(6)]
    params = TrackerParams.for_benchmark("default", teacher.config).replace(update_interval=2)
    runs = {}
    for backend in ("torch", "torch-full"):
        tracker = Tracker(teacher, params, backend=backend)
        tracker.init(frames[0], (40, 30, 20, 16))
        results = [tracker.update(f) for f in frames[1:]]
        assert all(np.isnan(r.score) for r in results)
        for r in results:
            x, y, w, h = r.box
            assert w > 0 and h > 0 and x >= 0 and y >= 0 and x + w <= 120 + 1e-6 and y + h <= 90 + 1e-6
        target = tracker._targets[0]
        assert target.candidate is target.template and all(o is target.template for o in target.online)
        assert tracker.timings.template_encodings == 0 or backend == "torch-full"
        runs[backend] = np.array([r.box for r in results])
    np.testing.assert_allclose(runs["torch"], runs["torch-full"], atol=1e-3)


# Loading -------------------------------------------------------------------------------------------
def test_load_needs_weights_and_checks_them(tiny_weights, tmp_path, no_default_model):
    with pytest.raises(WeightsRequiredError, match="weights are required"):
        Tracker.load(model="s")
    with pytest.raises(WeightsRequiredError, match="default model is not installed"):
        Tracker.load()
    tracker = Tracker.load(tiny_weights, benchmark="got10k")
    assert tracker.params.template_size == 32 and tracker.params.update_interval == 10
    other = tmp_path / "other.pth"
    save_checkpoint(build_model(dict(TINY, depth=1)), other)
    with pytest.raises(CheckpointError, match="does not fit"):
        Tracker.load(other, model=TINY)


# Parameters and registry ---------------------------------------------------------------------------
def test_benchmark_params():
    b = TrackerParams.for_benchmark
    assert (b("lasot", "b").update_interval, b("lasot", "b").search_factor) == (200, 5.0)
    assert (b("lasot", "s").update_interval, b("lasot", "s").search_factor) == (200, 4.4)
    assert (b("got10k", "b").update_interval, b("GOT10K_TEST", "s").update_interval) == (10, 15)
    assert b("got10k", "mixformerv2-s").search_factor == 4.55 and b("trackingnet", "s").search_factor == 4.55
    assert b("trackingnet", "b").update_interval == 25 and b("vot", "s").update_interval == 10
    for name in ("tnl2k", "uav123", "otb", "nfs", "default", "lasot_ext"):
        assert b(name, "b").update_interval == 200
    assert b("otb", "s").search_factor == 4.5 and b("otb", "b").search_factor == 5.0
    assert b("default", ModelConfig(**TINY)).search_factor == 5.0
    assert b("default").template_factor == 2.0 and b("default").far_side_padding_quirk
    with pytest.raises(ValueError, match="unknown benchmark"):
        b("imagenet")


def test_params_validation_and_model_sizes(tiny_model):
    with pytest.raises(ValueError, match="update_interval"):
        TrackerParams(update_interval=0)
    with pytest.raises(ValueError, match="search_factor"):
        TrackerParams(search_factor=float("nan"))
    with pytest.raises(ValueError, match="does not match the model"):
        Tracker(tiny_model, TrackerParams(search_size=224))
    assert Tracker(tiny_model).params.search_size == 64


def test_backend_registry(tiny_model):
    assert {"torch", "torch-full"} <= set(available_backends())

    def factory(model, threads=None):
        return TorchBackend(model, threads)

    register_backend("test-copy", factory)
    assert "test-copy" in available_backends()
    Tracker(tiny_model, backend="test-copy").init(np.zeros((50, 50, 3), np.uint8), (10, 10, 20, 20))
    with pytest.raises(ValueError, match="already registered"):
        register_backend("test-copy", lambda model, threads=None: None)
    with pytest.raises(ValueError, match="unknown backend"):
        Tracker(tiny_model, backend="nope")


def test_bfloat16_backend_agrees_with_float32(tiny_model):
    """torch-bf16 runs the network under bfloat16 autocast; the softmax and expectation stay float32, so the
    boxes agree with float32 to a small fraction of the crop."""
    import numpy as np

    from mixformerv2.tracking.backends import available_backends, create_backend

    assert "torch-bf16" in available_backends()
    c = tiny_model.config
    rng = np.random.default_rng(0)
    template = rng.standard_normal((2, 3, c.template_size, c.template_size)).astype(np.float32)
    online = rng.standard_normal((2, 1, 3, c.template_size, c.template_size)).astype(np.float32)
    search = rng.standard_normal((2, 3, c.search_size, c.search_size)).astype(np.float32)
    out = {}
    for name in ("torch", "torch-bf16"):
        backend = create_backend(name, tiny_model, threads=1)
        out[name] = backend.search(backend.encode(template, online), search)
    assert out["torch-bf16"][0].dtype == np.float32
    assert np.abs(out["torch-bf16"][0] - out["torch"][0]).max() < 0.02
    assert np.abs(out["torch-bf16"][1] - out["torch"][1]).max() < 0.1
