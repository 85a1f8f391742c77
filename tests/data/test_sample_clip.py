"""The sample clip: deterministic (same in another process), a prefix when shorter, from held-out photos only,
and a clear demonstration (visible, sized target; distractors; no leaving the view)."""
import os
import subprocess
import sys

import numpy as np
import pytest

from mixformerv2.data import SyntheticConfig, SyntheticTracking
from mixformerv2.data.sample_clip import CLIP_FRAMES, CLIP_SEED, frames_sha256, is_demonstrative, sample_clip

FRAMES = 24


def test_the_clip_is_the_same_in_another_process():
    clip = sample_clip(FRAMES)
    code = ("import cv2; cv2.setNumThreads(1)\n"      # other OpenCV threading must not change a pixel
            "from mixformerv2.data.sample_clip import sample_clip, frames_sha256\n"
            f"c = sample_clip({FRAMES}); print(c.groundtruth_sha256(), frames_sha256(c), c.name)")
    env = dict(os.environ, MIXFORMERV2_CACHE=os.environ["MIXFORMERV2_CACHE"] + "-other")  # photos decoded afresh
    src = os.path.join(os.path.dirname(__file__), "..", "..", "src")
    env["PYTHONPATH"] = os.path.abspath(src) + os.pathsep + env.get("PYTHONPATH", "")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == [clip.groundtruth_sha256(), frames_sha256(clip), clip.name]


def test_a_shorter_clip_is_a_prefix_and_another_seed_another_clip():
    short, full = sample_clip(10), sample_clip()
    assert full.num_frames == CLIP_FRAMES and len(full.boxes) == CLIP_FRAMES and short.name == full.name
    assert np.array_equal(short.boxes, full.boxes[:10])
    assert np.array_equal(short.frame(9), full.frame(9))
    assert full.groundtruth_text().startswith(short.groundtruth_text())
    other = sample_clip(10, seed=CLIP_SEED + 1)
    assert not np.array_equal(other.boxes, short.boxes)
    for frames in (1, CLIP_FRAMES + 1):
        with pytest.raises(ValueError, match=f"2 to {CLIP_FRAMES} frames"):
            sample_clip(frames)


def test_the_clip_uses_only_held_out_photos_and_makes_a_clear_demonstration():
    clip = sample_clip()
    assert clip.size == (480, 360) and clip.fps == 25.0
    assert is_demonstrative(clip.sequence)
    x, y, w, h = clip.boxes[0]
    assert min(w, h) >= 30 and clip.visible[0] and clip.visible.mean() >= 0.98
    assert {layer.role for layer in clip.sequence.layers} >= {"target", "distractor"}
    train = SyntheticTracking(SyntheticConfig(photos=("skimage",), split="train", num_sequences=1))
    train_photos = {train.photos.name(i) for i in train.pool}
    assert clip.photo_names and train_photos.isdisjoint(clip.photo_names)
    info = clip.info()
    assert info["groundtruth_sha256"] == clip.groundtruth_sha256() and info["split"] == "test"
    lines = clip.groundtruth_text().splitlines()
    assert len(lines) == CLIP_FRAMES and np.allclose([float(v) for v in lines[0].split(",")], clip.boxes[0], atol=0.005)
