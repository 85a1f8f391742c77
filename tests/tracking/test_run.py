"""The one tracking loop (tracking.run): results per frame, warm-up left out of the speed once, early stops."""
import numpy as np
import pytest

from mixformerv2.tracking import TrackResult
from mixformerv2.tracking.run import TrackingLoop


class FakeTracker:
    """Moves every box 1 px right per frame; step i takes 1 s for the first 3 updates, then 0.5 s."""

    def init(self, frame, boxes):
        self.boxes = [list(b) for b in boxes]
        self.updates = 0

    def update(self, frame):
        self.updates += 1
        for b in self.boxes:
            b[0] += 1
        seconds = 1.0 if self.updates <= 3 else 0.5
        return [TrackResult(tuple(b), 0.9, seconds) for b in self.boxes]


def frames(n):
    return (np.zeros((8, 8, 3), np.uint8) for _ in range(n))


def test_loop_records_boxes_scores_and_times_and_leaves_out_the_warmup():
    loop = TrackingLoop(FakeTracker(), [[0, 0, 4, 4], [2, 2, 3, 3]], warmup=3).run(frames(8))
    assert loop.frames == 8 and len(loop.seconds) == 8
    assert loop.boxes[0][0] == [0, 0, 4, 4] and loop.boxes[1][-1] == (9, 2, 3, 3)
    assert loop.scores[0][0] is None and loop.scores[0][1:] == [0.9] * 7
    assert loop.after_warmup and list(loop.step_seconds) == [0.5] * 4 and loop.step_fps == pytest.approx(2.0)
    assert loop.box_array(1).shape == (8, 4)


def test_too_few_frames_time_every_update():
    loop = TrackingLoop(FakeTracker(), [[0, 0, 4, 4]], warmup=5).run(frames(3))
    assert not loop.after_warmup and loop.step_fps == pytest.approx(1.0)


def test_on_frame_and_max_frames_stop_the_loop():
    seen = []
    loop = TrackingLoop(FakeTracker(), [[0, 0, 4, 4]]).run(frames(10), lambda f, r: seen.append(r.index) or r.index < 3)
    assert seen == [0, 1, 2, 3] and loop.frames == 4
    assert TrackingLoop(FakeTracker(), [[0, 0, 4, 4]]).run(frames(10), max_frames=6).frames == 6
    with pytest.raises(ValueError, match="at least one box"):
        TrackingLoop(FakeTracker(), [])
