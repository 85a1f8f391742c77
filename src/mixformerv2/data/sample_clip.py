"""The sample clip: a synthetic tracking sequence made deterministically from the photos scikit-image ships.

It needs no download and no data beside the package: the synthetic generator (``data.synthetic``) draws
sequences of its ``test`` split, which takes targets and backgrounds only from the held-out photos, with a
fixed seed; the first of them that makes a good demonstration (the target clearly visible in the first
frame, never leaving the view, only briefly hidden, with look-alike or other distractors and some partial
occlusion) is the clip. Everything is a pure function of (seed, clip length, the scikit-image photos), so
the clip is the same in every process and on every machine with the same scikit-image photos
(``photo_fingerprint`` identifies them).

Boxes are x, y, w, h in frame pixels (the top-left corner at x, y).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Dict, List, Optional

import numpy as np

from .synthetic import SyntheticConfig, SyntheticSequence, SyntheticTracking

CLIP_SEED = 7
CLIP_FRAMES = 300                # 12 s at 25 fps
CLIP_FPS = 25.0
CANDIDATES = 64                  # sequences tried before giving up
# The generator's settings for the clip: 480x360 frames, mid-sized targets, more distractors and occlusion
# than the dataset's defaults, no leaving the view.
CLIP_SETTINGS: Dict[str, object] = dict(
    photos=("skimage",), split="test", frame_width=480, frame_height=360, min_target_size=40.0,
    max_target_size=80.0, out_of_view=0.0, distractors=0.9, partial_occlusion=0.7, full_occlusion=0.3,
    fast_motion=0.0)


@dataclass(frozen=True)
class SampleClip:
    """The first ``num_frames`` frames of a synthetic sequence. ``boxes``: (N, 4) ground truth x, y, w, h px;
    ``visible``: (N,) False where the target is fully occluded (the LaSOT convention's absent frames)."""

    sequence: SyntheticSequence
    num_frames: int
    fps: float
    seed: int
    index: int
    config: SyntheticConfig
    photo_names: List[str]
    photo_fingerprint: str

    @property
    def name(self) -> str:
        return self.sequence.name

    @property
    def size(self) -> tuple:
        """(width, height) in pixels."""
        return tuple(self.sequence.frame_size)

    @property
    def boxes(self) -> np.ndarray:
        return self.sequence.boxes[:self.num_frames]

    @property
    def visible(self) -> np.ndarray:
        n = self.num_frames
        return ~(self.sequence.full_occlusion[:n] | self.sequence.out_of_view[:n])

    def frame(self, t: int) -> np.ndarray:
        """Frame t (0-based) as RGB uint8 (H, W, 3)."""
        if not 0 <= t < self.num_frames:
            raise IndexError(f"frame {t} outside the clip's {self.num_frames} frames")
        return self.sequence.frame(t)

    def frames(self):
        """The frames in order (rendered one at a time)."""
        for t in range(self.num_frames):
            yield self.sequence.frame(t)

    def groundtruth_text(self) -> str:
        """The ground truth as text: one ``x,y,w,h`` line per frame, pixels with two decimals."""
        return "".join(",".join(f"{v:.2f}" for v in box) + "\n" for box in self.boxes)

    def groundtruth_sha256(self) -> str:
        return hashlib.sha256(self.groundtruth_text().encode()).hexdigest()

    def info(self) -> Dict[str, object]:
        """What identifies the clip (JSON-able)."""
        import skimage

        width, height = self.size
        return {"name": self.name, "frames": self.num_frames, "fps": self.fps, "width": width, "height": height,
                "seed": self.seed, "sequence_index": self.index, "split": self.config.split,
                "photos": self.photo_names, "photo_fingerprint": self.photo_fingerprint,
                "scikit_image": skimage.__version__, "groundtruth_sha256": self.groundtruth_sha256()}


def is_demonstrative(seq: SyntheticSequence) -> bool:
    """Whether a sequence makes a clear demonstration: the target fully visible in the first frame, at least
    30 px on its short side and 8 px inside the frame; never out of view; fully hidden in at most 2 % of the
    frames; with at least one distractor and some partial occlusion (visibility below 0.8 somewhere)."""
    width, height = seq.frame_size
    x, y, w, h = seq.boxes[0]
    roles = {layer.role for layer in seq.layers}
    return bool(seq.visibility[0] >= 0.99 and min(w, h) >= 30 and x >= 8 and y >= 8 and x + w <= width - 8
                and y + h <= height - 8 and not seq.out_of_view.any() and (seq.boxes[:, 2:] > 0).all()
                and seq.full_occlusion.mean() <= 0.02 and "distractor" in roles and seq.visibility.min() < 0.8)


def sample_clip(num_frames: Optional[int] = None, seed: int = CLIP_SEED) -> SampleClip:
    """The sample clip of ``seed``: its first ``num_frames`` frames (default and at most CLIP_FRAMES; a
    shorter clip is a prefix of the full one). ValueError when no candidate sequence qualifies."""
    num_frames = CLIP_FRAMES if num_frames is None else int(num_frames)
    if not 2 <= num_frames <= CLIP_FRAMES:
        raise ValueError(f"the sample clip has 2 to {CLIP_FRAMES} frames, not {num_frames}")
    config = SyntheticConfig(**CLIP_SETTINGS, seed=int(seed), num_sequences=CANDIDATES, min_length=CLIP_FRAMES,
                             max_length=CLIP_FRAMES)
    dataset = SyntheticTracking(config, cache_size=1)
    for index in range(len(dataset)):
        seq = dataset.sequence(index)
        if is_demonstrative(seq):
            names = [dataset.photos.name(i) for i in dataset.pool]
            return SampleClip(seq, num_frames, CLIP_FPS, int(seed), index, config, names,
                              dataset.photos.fingerprint())
    raise ValueError(f"none of the first {CANDIDATES} synthetic sequences of seed {seed} makes a clear sample "
                     f"clip; try another seed")


def frames_sha256(clip: SampleClip) -> str:
    """SHA-256 over the raw RGB bytes of every frame of the clip (to check that it renders identically)."""
    digest = hashlib.sha256()
    for frame in clip.frames():
        digest.update(np.ascontiguousarray(frame).tobytes())
    return digest.hexdigest()
