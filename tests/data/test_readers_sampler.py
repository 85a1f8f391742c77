"""Dataset readers on small copies of each native layout, the frame sampler and the crop processing."""
from __future__ import annotations

import json
import logging
import math
import pickle

import cv2
import numpy as np
import pytest
import torch

from mixformerv2.data import (COCO, EpochIndexSampler, GOT10k, LaSOT, PairProcessing, ProcessingConfig,
                              SamplerConfig, TrackingNet, TrackingSampler, build_dataset, training_crop)
from mixformerv2.data.base import SequenceAnnotations, TrackingDataset
from mixformerv2.data.datasets import DatasetError


def _frame(i, w=64, h=48):
    rng = np.random.default_rng(i)
    return (rng.random((h, w, 3)) * 255).astype(np.uint8)


def _write_frames(folder, n, name=lambda t: f"{t + 1:08d}.jpg"):
    folder.mkdir(parents=True, exist_ok=True)
    for t in range(n):
        cv2.imwrite(str(folder / name(t)), _frame(t))


def _boxes(n):
    return np.array([[10 + t, 8, 20, 16] for t in range(n)], float)


def _same_after_pickling(ds, index, frame_ids):
    """The data-loading workers (forkserver) receive datasets pickled: the copy must read the same data."""
    copy = pickle.loads(pickle.dumps(ds))
    a, b = ds.annotations(index), copy.annotations(index)
    assert copy.sequence_name(index) == ds.sequence_name(index)
    assert np.array_equal(a.boxes, b.boxes) and np.array_equal(a.visible, b.visible)
    assert all(np.array_equal(x, y) for x, y in zip(ds.frames(index, frame_ids), copy.frames(index, frame_ids)))


def test_got10k_layout_split_lists_and_visibility(tmp_path):
    root = tmp_path / "train"
    names = [f"GOT-10k_Train_{i:06d}" for i in (1, 2, 3)]
    for name in names:
        _write_frames(root / name, 4)
        np.savetxt(root / name / "groundtruth.txt", _boxes(4), fmt="%.4f", delimiter=",")
        (root / name / "absence.label").write_text("0\n1\n0\n0\n")
        (root / name / "cover.label").write_text("8\n0\n0\n5\n")
    (root / "list.txt").write_text("\n".join(names) + "\n")
    (tmp_path / "split.txt").write_text("2\n0\n")
    (tmp_path / "exclude.txt").write_text(names[0] + "\n")
    ds = GOT10k(str(root), split_file=str(tmp_path / "split.txt"))
    assert [ds.sequence_name(i) for i in range(len(ds))] == [names[2], names[0]]
    assert ds.annotations(0).visible.tolist() == [True, False, False, True]
    assert ds.frames(0, [3])[0].shape == (48, 64, 3)
    _same_after_pickling(ds, 0, [0, 3])
    assert len(GOT10k(str(root), exclude_file=str(tmp_path / "exclude.txt"))) == 2
    (tmp_path / "bad.txt").write_text("7\n")
    with pytest.raises(DatasetError, match="beyond"):
        GOT10k(str(root), split_file=str(tmp_path / "bad.txt"))
    with pytest.raises(DatasetError, match="does not exist"):
        GOT10k(str(tmp_path / "nope"))


def test_lasot_trackingnet_coco_layouts(tmp_path):
    lasot = tmp_path / "lasot"
    for name in ("cat-1", "cat-2", "dog-3"):
        folder = lasot / name.split("-")[0] / name
        _write_frames(folder / "img", 3)
        np.savetxt(folder / "groundtruth.txt", _boxes(3), fmt="%d", delimiter=",")
        (folder / "full_occlusion.txt").write_text("0,1,0\n")
        (folder / "out_of_view.txt").write_text("0,0,1\n")
    (tmp_path / "test.txt").write_text("cat-2\n")
    ds = LaSOT(str(lasot), exclude_file=str(tmp_path / "test.txt"))
    assert [ds.sequence_name(i) for i in range(len(ds))] == ["cat-1", "dog-3"]
    assert ds.annotations(1).visible.tolist() == [True, False, False]
    _same_after_pickling(ds, 1, [2])
    toolkit = tmp_path / "lasot_toolkit"
    (toolkit / "annos").mkdir(parents=True)
    np.savetxt(toolkit / "annos" / "cat-1.txt", _boxes(3), fmt="%d", delimiter=",")
    with pytest.raises(DatasetError, match="no frames"):
        LaSOT(str(toolkit))

    tn = tmp_path / "trackingnet"
    for chunk, seq in ((0, "a_1"), (1, "b_2")):
        _write_frames(tn / f"TRAIN_{chunk}" / "frames" / seq, 3, name=lambda t: f"{t}.jpg")
        (tn / f"TRAIN_{chunk}" / "anno").mkdir(parents=True)
        np.savetxt(tn / f"TRAIN_{chunk}" / "anno" / f"{seq}.txt", _boxes(3), fmt="%.2f", delimiter=",")
    ds = TrackingNet(str(tn))
    assert len(ds) == 2 and ds.sequence_name(1) == "b_2" and ds.frames(1, [0, 2])[1].shape == (48, 64, 3)
    assert len(TrackingNet(str(tn), chunks=[1])) == 1
    _same_after_pickling(ds, 1, [0, 2])

    coco = tmp_path / "coco"
    (coco / "annotations").mkdir(parents=True)
    (coco / "train2017").mkdir()
    cv2.imwrite(str(coco / "train2017" / "000001.jpg"), _frame(0))
    (coco / "annotations" / "instances_train2017.json").write_text(json.dumps({
        "images": [{"id": 1, "file_name": "000001.jpg"}],
        "annotations": [{"id": 5, "image_id": 1, "bbox": [3, 4, 20, 10], "area": 200, "iscrowd": 0},
                        {"id": 6, "image_id": 1, "bbox": [0, 0, 30, 30], "area": 900, "iscrowd": 1}]}))
    ds = build_dataset({"type": "coco", "root": str(coco), "ratio": 2})
    assert isinstance(ds, COCO) and len(ds) == 1 and not ds.is_video
    assert ds.annotations(0).boxes.tolist() == [[3, 4, 20, 10]]
    with pytest.raises(ValueError, match="unknown dataset type"):
        build_dataset({"type": "imagenet"})


class ListDataset(TrackingDataset):
    """Sequences of random frames with a moving box; sequence 0 raises on reading (a broken file)."""

    name = "list"

    def __init__(self, n=5, length=300, broken=()):
        self.n, self.length, self.broken = n, length, set(broken)
        self.requests = []

    def __len__(self):
        return self.n

    def sequence_name(self, i):
        return f"s{i}"

    def annotations(self, i):
        visible = np.ones(self.length, bool)
        visible[::7] = False
        boxes = np.array([[100 + math.sin(t / 9) * 40, 80, 30, 24] for t in range(self.length)])
        return SequenceAnnotations(boxes, visible)

    def frames(self, i, ids):
        if i in self.broken:
            raise OSError(f"cannot read frame of sequence {i}")
        self.requests.append(list(ids))
        return [_frame(int(t) % 5, 256, 192) for t in ids]


def _sampler(ds, mode="box", gap=20):
    proc = PairProcessing(ProcessingConfig(), template_size=32, search_size=64)
    return TrackingSampler([ds], [1.0], proc, SamplerConfig(samples_per_epoch=64, max_gap=gap, mode=mode), seed=1)


def test_sampler_is_a_function_of_epoch_and_index_and_respects_the_gap():
    ds = ListDataset()
    sampler = _sampler(ds)
    a, b, c = sampler[(0, 3)], sampler[(0, 3)], sampler[(1, 3)]
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["search"], c["search"])
    assert a["templates"].shape == (2, 3, 32, 32) and a["search"].shape == (3, 64, 64) and a["templates"].dtype == torch.uint8
    ds.requests.clear()
    for i in range(30):
        sampler[(0, i)]
    visible = ds.annotations(0).visible
    for t0, t1, s in ds.requests:
        assert t0 <= t1 <= s and 0 < s - t0 <= 20 + 50 and visible[[t0, t1, s]].all()


def test_bad_frames_are_logged_and_redrawn(caplog):
    sampler = _sampler(ListDataset(n=2, broken={0}))
    with caplog.at_level(logging.WARNING):
        samples = [sampler[(0, i)] for i in range(10)]
    assert len(samples) == 10
    assert "drawing another" in caplog.text
    with pytest.raises(RuntimeError, match="no usable sample"):
        _sampler(ListDataset(n=1, broken={0}))[(0, 0)]


def test_score_sampler_draws_positives_and_negatives_evenly():
    sampler = _sampler(ListDataset(), mode="score")
    labels = [float(sampler[(0, i)]["label"]) for i in range(60)]
    assert 18 <= sum(labels) <= 42 and set(labels) == {0.0, 1.0}


def test_epoch_index_sampler_splits_global_batches():
    n, batch = 24, 8
    single = [i for _, i in EpochIndexSampler(n)]
    ranks = [[i for _, i in EpochIndexSampler(n, r, 2)] for r in range(2)]
    for k in range(n // batch):
        per_rank = [ranks[r][k * batch // 2:(k + 1) * batch // 2] for r in range(2)]
        assert sorted(per_rank[0] + per_rank[1]) == single[k * batch:(k + 1) * batch]
    s = EpochIndexSampler(n)
    s.set_epoch(3, start=16)
    assert list(s) == [(3, i) for i in range(16, 24)]


def test_crop_matches_a_padded_crop_resized_bilinear():
    image = _frame(3, 120, 90)
    for box, factor in (([30.3, 20.7, 25, 18], 2.0), ([100, 70, 30, 30], 3.0), ([-5, -8, 20, 30], 4.0)):
        crop, window = training_crop(image, box, factor, 40)
        x1, y1 = window.x1, window.y1
        side = math.ceil(math.sqrt(box[2] * box[3]) * factor)
        assert window.resize_factor == 40 / side and x1 == round(box[0] + box[2] / 2 - side / 2)
        h, w = image.shape[:2]
        pad = np.zeros((h + 2 * side, w + 2 * side, 3), np.uint8)
        src = image.copy()
        if x1 + side > w - 1:
            src[:, w - 1] = 0
        if y1 + side > h - 1:
            src[h - 1] = 0
        pad[side:side + h, side:side + w] = src
        ref = cv2.resize(pad[y1 + side:y1 + 2 * side, x1 + side:x1 + 2 * side], (40, 40), interpolation=cv2.INTER_LINEAR)
        np.testing.assert_array_equal(crop, ref)


@pytest.mark.parametrize("box", [[30.3, 20.7, 25, 18], [100, 70, 30, 30], [-5, -8, 20, 30], [200, 150, 60, 40]])
def test_a_training_crop_without_jitter_is_the_trackers_crop(box):
    """Training and tracking share one crop and one normalisation: with jitter and augmentations off, the
    sampler's template and search crops of a frame and box are exactly the tracker's inputs."""
    from mixformerv2 import Tracker, TrackerParams, build_model
    from mixformerv2.geometry import normalize_images

    image = _frame(3, 240, 180)
    config = ProcessingConfig(search_center_jitter=0, search_scale_jitter=0, brightness_jitter=0, grayscale_prob=0,
                              flip_prob=0, template_factor=2.0, search_factor=4.0)
    out = PairProcessing(config, template_size=32, search_size=64)([image], [box], image, box,
                                                                   np.random.default_rng(0))
    model = build_model(dict(embed_dim=32, depth=1, num_heads=2, mlp_ratio=1, template_size=32, search_size=64,
                             num_bins=16)).eval()
    tracker = Tracker(model, TrackerParams(template_factor=2.0, search_factor=4.0))
    tracker.init(image, box)
    template, _ = tracker._template_arrays()
    np.testing.assert_array_equal(normalize_images(out["templates"][0]).numpy(), template[0])
    tracker.update(image)          # the search crop is cut around the previous box: the initial one
    np.testing.assert_array_equal(normalize_images(out["search"]).numpy(), tracker._search[0])


def test_processing_puts_the_box_where_the_target_is():
    image = np.zeros((200, 300, 3), np.uint8)
    box = [120, 60, 40, 30]
    image[60:90, 120:160] = 255
    proc = PairProcessing(ProcessingConfig(brightness_jitter=0, flip_prob=1.0, search_center_jitter=0.5,
                                           search_scale_jitter=0.2, grayscale_prob=0), template_size=32, search_size=128)
    out = proc([image, image], [box, box], image, box, np.random.default_rng(0))
    search = out["search"].numpy()[0] > 127
    x, y, w, h = (out["search_box"].numpy() * 128)
    ys, xs = np.nonzero(search)
    assert abs(xs.min() - x) <= 1.5 and abs(xs.max() + 1 - (x + w)) <= 1.5
    assert abs(ys.min() - y) <= 1.5 and abs(ys.max() + 1 - (y + h)) <= 1.5


def _search_offsets(config: ProcessingConfig, draws: int = 200) -> np.ndarray:
    """Distance of the target centre from the search crop's centre (crop units) over ``draws`` samples."""
    image = _frame(5, 320, 240)
    box = [140, 100, 30, 30]
    proc = PairProcessing(config, template_size=32, search_size=64)
    rng = np.random.default_rng(3)
    out = []
    for _ in range(draws):
        x, y, w, h = proc([image], [box], image, box, rng)["search_box"].numpy()
        out.append(max(abs(x + w / 2 - 0.5), abs(y + h / 2 - 0.5)))
    return np.asarray(out)


def test_tracking_jitter_off_keeps_the_random_stream():
    """With search_tracking_jitter_prob 0 (the official recipe) no coin is drawn: samples are the same as
    before the option existed, so runs resume and reproduce bit for bit."""
    image = _frame(6, 200, 160)
    box = [60, 50, 40, 30]
    base = dict(search_center_jitter=3.0, search_scale_jitter=0.3, search_factor=4.0)
    a = PairProcessing(ProcessingConfig(**base), 32, 64)([image], [box], image, box, np.random.default_rng(9))
    b = PairProcessing(ProcessingConfig(**base, search_tracking_center_jitter=0.0),
                       32, 64)([image], [box], image, box, np.random.default_rng(9))
    for key in a:
        np.testing.assert_array_equal(a[key].numpy(), b[key].numpy())


def test_tracking_jitter_centres_that_share_of_search_crops():
    wide = dict(search_factor=4.0, search_center_jitter=3.5, search_scale_jitter=0.4, flip_prob=0)
    always = _search_offsets(ProcessingConfig(**wide, search_tracking_jitter_prob=1.0,
                                              search_tracking_center_jitter=0.0, search_tracking_scale_jitter=0.0))
    np.testing.assert_allclose(always, 0.0, atol=1e-3)       # every crop centred on the target
    half = _search_offsets(ProcessingConfig(**wide, search_tracking_jitter_prob=0.5,
                                            search_tracking_center_jitter=0.0, search_tracking_scale_jitter=0.0))
    centred = np.mean(half < 1e-3)
    assert 0.35 < centred < 0.65                              # about half of them
    assert np.mean(_search_offsets(ProcessingConfig(**wide)) < 1e-3) < 0.05


@pytest.mark.parametrize("field,value", [("search_tracking_jitter_prob", 1.5), ("search_tracking_jitter_prob", -0.1),
                                         ("search_tracking_center_jitter", -1.0), ("search_scale_jitter", -0.2)])
def test_processing_config_rejects_bad_jitter(field, value):
    with pytest.raises(ValueError, match=field):
        ProcessingConfig(**{field: value})
