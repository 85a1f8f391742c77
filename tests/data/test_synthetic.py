"""The synthetic tracking dataset: reproducible, consistent ground truth, nuisances present, LaSOT export."""
from __future__ import annotations

import numpy as np
import pytest

from mixformerv2.data import LaSOT, SyntheticConfig, SyntheticTracking, write_lasot_benchmark
from mixformerv2.data.photos import PhotoSourceError, resolve_photo_sources

SMALL = dict(photos=("skimage",), num_sequences=6, frame_width=160, frame_height=120, min_target_size=12,
             max_target_size=40, min_length=30, max_length=60)


def test_same_seed_same_sequences_other_seed_other_sequences():
    a = SyntheticTracking(SyntheticConfig(**SMALL, seed=3))
    b = SyntheticTracking(SyntheticConfig(**SMALL, seed=3))
    c = SyntheticTracking(SyntheticConfig(**SMALL, seed=4))
    for i in (0, 5):
        assert np.array_equal(a.sequence(i).boxes, b.sequence(i).boxes)
        assert np.array_equal(a.frames(i, [0, 7])[1], b.frames(i, [0, 7])[1])
    assert not np.array_equal(a.sequence(0).boxes, c.sequence(0).boxes)
    # Order of access does not matter (sequence i depends only on (seed, split, i)).
    d = SyntheticTracking(SyntheticConfig(**SMALL, seed=3))
    assert np.array_equal(d.sequence(5).boxes, a.sequence(5).boxes)


def test_splits_differ_and_test_split_uses_heldout_photos():
    train = SyntheticTracking(SyntheticConfig(**SMALL, split="train"))
    test = SyntheticTracking(SyntheticConfig(**SMALL, split="test"))
    assert not np.array_equal(train.sequence(0).boxes, test.sequence(0).boxes)
    assert set(train.pool).isdisjoint(test.pool) and test.pool


def test_box_covers_the_target_and_flags_follow_visibility():
    ds = SyntheticTracking(SyntheticConfig(**SMALL, full_occlusion=1.0, out_of_view=0.0, distractors=0.0,
                                           partial_occlusion=0.0, noise=0.0, illumination=0.0, motion_blur=0.0,
                                           camera_motion=0.0, camera_shake=0.0))
    seq = ds.sequence(1)
    frames = [seq.frame(t) for t in range(seq.length)]
    # Where the target is visible, the frame differs from the bare background inside the box.
    for t in range(0, seq.length, 5):
        if seq.visibility[t] < 0.9:
            continue
        x, y, w, h = seq.boxes[t]
        layers, seq.layers = seq.layers, [layer for layer in seq.layers if layer.role != "target"]
        bare = seq.frame(t)
        seq.layers = layers
        inside = np.abs(frames[t].astype(int) - bare.astype(int))[int(y):int(y + h), int(x):int(x + w)]
        assert inside.mean() > 3
        outside = np.abs(frames[t].astype(int) - bare.astype(int))
        outside[max(0, int(y) - 1):int(y + h) + 2, max(0, int(x) - 1):int(x + w) + 2] = 0
        assert outside.mean() < 0.05
    assert (seq.full_occlusion == (seq.visibility < 0.1)).all()
    assert any(ds.sequence(i).full_occlusion.any() for i in range(len(ds)))
    anno = ds.annotations(1)
    assert not anno.visible[seq.full_occlusion].any()


def test_out_of_view_frames_have_empty_boxes():
    ds = SyntheticTracking(SyntheticConfig(**dict(SMALL, min_length=80, max_length=120), out_of_view=1.0))
    hits = [ds.sequence(i) for i in range(len(ds)) if ds.sequence(i).out_of_view.any()]
    assert hits
    for seq in hits:
        assert (seq.boxes[seq.out_of_view] == 0).all()
        assert (seq.boxes[:, 0] >= 0).all() and (seq.boxes[:, 0] + seq.boxes[:, 2] <= 160 + 1e-6).all()


def test_write_lasot_benchmark_and_read_it_back(tmp_path):
    ds = SyntheticTracking(SyntheticConfig(**dict(SMALL, num_sequences=2), split="test"))
    names = write_lasot_benchmark(ds, tmp_path, progress=False)
    assert (tmp_path / "testing_set.txt").read_text().split() == names
    reader = LaSOT(str(tmp_path), split_file=str(tmp_path / "testing_set.txt"))
    for i, name in enumerate(names):
        seq = ds.sequence(i)
        folder = tmp_path / seq.class_name / name
        assert (folder / "img" / "00000001.jpg").is_file()
        assert len(list((folder / "img").iterdir())) == seq.length
        anno = reader.annotations(i)
        np.testing.assert_allclose(anno.boxes, seq.boxes, atol=0.006)
        occ = np.array((folder / "full_occlusion.txt").read_text().strip().split(","), int)
        assert np.array_equal(occ.astype(bool), seq.full_occlusion)
        frame = reader.frames(i, [3])[0]
        assert frame.shape == (120, 160, 3)
        assert np.abs(frame.astype(int) - seq.frame(3).astype(int)).mean() < 6  # JPEG
    # Writing again skips finished sequences and leaves no temporary folders.
    write_lasot_benchmark(ds, tmp_path, progress=False)
    assert not list(tmp_path.glob("*/.*.tmp"))


def test_photo_sources(tmp_path):
    import cv2

    from mixformerv2.data.photos import skimage_photo_paths

    folder = tmp_path / "photos"
    (folder / "sub").mkdir(parents=True)
    for i, p in enumerate(skimage_photo_paths()[:3]):
        cv2.imwrite(str(folder / "sub" / f"p{i}.jpg"), cv2.imread(str(p)))
    (folder / "notes.txt").write_text("not a photo")
    assert len(resolve_photo_sources([str(folder)])) == 3
    ds = SyntheticTracking(SyntheticConfig(**dict(SMALL, num_sequences=2, photos=(str(folder),))))
    assert ds.sequence(0).frame(0).shape == (120, 160, 3)
    with pytest.raises(PhotoSourceError, match="not a file, a folder"):
        resolve_photo_sources([str(tmp_path / "missing")])
    with pytest.raises(ValueError, match="unknown synthetic dataset keys"):
        SyntheticConfig.from_dict({"num_sequence": 3})
