"""The online-template update rule against scripted score sequences (spec section 4)."""
import numpy as np
import pytest

from mixformerv2 import ModelConfig, Tracker, TrackerParams

from .conftest import ScriptedBackend, denormalize, logit

CONFIG = ModelConfig(embed_dim=64, depth=1, num_heads=4, mlp_ratio=1, template_size=32, search_size=64, num_bins=16)
BOX = (90.0, 90.0, 20.0, 20.0)


def frame(i):
    """Frame i is a flat grey of level 10 + 5 i, so a template crop tells which frame it came from."""
    return np.full((200, 200, 3), 10 + 5 * i, np.uint8)


def source_frame(template):
    level = int(denormalize(template)[16, 16, 0])
    assert (level - 10) % 5 == 0
    return (level - 10) // 5


def run(scores, **params):
    backend = ScriptedBackend(CONFIG, [logit(s) if 0 < s < 1 else s for s in scores])
    tracker = Tracker(None, TrackerParams(search_factor=5.0, **params), backend=backend)
    tracker.init(frame(0), BOX)
    results = [tracker.update(frame(i)) for i in range(1, len(scores) + 1)]
    return tracker, backend, results


def online_sources(encoding):
    _, online = encoding
    return [source_frame(t) for t in online[0]]


def test_update_rule_follows_the_scripted_scores():
    scores = [0.3, 0.7, 0.6, 0.9, 0.8,      # best confident frame: 4
              0.2, 0.4, 0.1, 0.3, 0.45,     # nothing above 0.5: back to the first-frame template
              0.6, 0.55, 0.95, 0.0, 0.51,   # 11, then 13 (0.95); logit 0 -> exactly 0.5 is not > 0.5
              0.1, 0.2, 0.3, 0.4, 0.49,     # nothing: back to the first frame
              0.1, 0.1, 0.1, 0.1, 0.1]      # nothing again: unchanged, so no re-encoding
    tracker, backend, results = run(scores, update_interval=5)
    assert [round(r.score, 6) for r in results] == pytest.approx([0.5 if s == 0.0 else s for s in scores], abs=1e-6)
    encodings = [online_sources(e) for e in backend.encodings]
    assert encodings == [[0], [4], [0], [13], [0]]
    assert all(source_frame(e[0][0]) == 0 for e in backend.encodings)   # the first template never changes
    assert tracker.timings.template_encodings == 4


def test_candidate_is_taken_at_the_new_box_and_reset_after_each_interval():
    # interval 3: frame 2 is the only confident frame of the first interval; the second interval's best
    # must not be compared with the first interval's 0.99 (max_score resets to -1)
    scores = [0.1, 0.99, 0.2, 0.6, 0.2, 0.2]
    _, backend, _ = run(scores, update_interval=3)
    assert [online_sources(e) for e in backend.encodings] == [[0], [2], [4]]


def test_score_threshold_is_a_parameter():
    scores = [0.6, 0.7, 0.2, 0.2]
    _, backend, _ = run(scores, update_interval=4, score_threshold=0.65)
    assert [online_sources(e) for e in backend.encodings] == [[0], [2]]


def test_max_score_decay():
    # with decay 0.5 the best score 0.9 of frame 1 decays to 0.45 by frame 2, so 0.6 wins
    scores = [0.9, 0.6]
    _, backend, _ = run(scores, update_interval=2, max_score_decay=0.5)
    assert [online_sources(e) for e in backend.encodings] == [[0], [2]]
    _, backend, _ = run(scores, update_interval=2)
    assert [online_sources(e) for e in backend.encodings] == [[0], [1]]


def test_several_online_templates_grow_then_replace_the_oldest():
    scores = [0.9] * 7
    _, backend, _ = run(scores, update_interval=1, online_templates=3)
    assert [online_sources(e) for e in backend.encodings] == [
        [0], [0, 1], [0, 1, 2], [3, 1, 2], [3, 4, 2], [3, 4, 5], [6, 4, 5], [6, 7, 5]][:len(backend.encodings)]
    assert len(backend.encodings) == 8


def test_every_target_follows_the_rule_on_its_own_scores():
    class TwoTargets(ScriptedBackend):
        def search(self, cache, search):
            boxes, logits = super().search(cache, search)
            logits[1] = -logits[1]          # target 2 is confident exactly when target 1 is not
            return boxes, logits

    backend = TwoTargets(CONFIG, [logit(s) for s in (0.9, 0.1, 0.1, 0.1)])
    tracker = Tracker(None, TrackerParams(update_interval=2), backend=backend)
    tracker.init(frame(0), [BOX, (20.0, 20.0, 20.0, 20.0)])
    for i in range(1, 5):
        results = tracker.update(frame(i))
        assert len(results) == 2 and results[0].score == pytest.approx(1 - results[1].score, abs=1e-6)
    sources = [[source_frame(t) for t in online[:, 0]] for _, online in backend.encodings]
    assert sources == [[0, 0], [1, 2], [0, 3]]   # target 2: frame 3 scores 0.9, frame 4 only ties it


def test_size_update_rate_moves_the_size_part_of_the_way():
    """The backend predicts a box at the crop's centre twice as large as the target (search factor 5: the target is
    0.2 of the crop, the prediction 0.4). Rate 1 (the official tracker) takes it; rate 0.25 moves a quarter of the
    way each frame, with the centre where it was predicted."""
    def sizes(rate):
        backend = ScriptedBackend(CONFIG, [0.0] * 3, box=(0.5, 0.5, 0.4, 0.4))
        tracker = Tracker(None, TrackerParams(search_factor=5.0, size_update_rate=rate), backend=backend)
        tracker.init(frame(0), BOX)
        return [tracker.update(frame(i)).box for i in range(1, 4)]

    official = sizes(1.0)
    assert official[0][2] == pytest.approx(40.0, abs=0.5)
    smoothed = sizes(0.25)
    assert smoothed[0][2] == pytest.approx(25.0, abs=0.5) and smoothed[0][3] == pytest.approx(25.0, abs=0.5)
    for box in smoothed:
        assert box[0] + box[2] / 2 == pytest.approx(100.0, abs=0.5)      # the predicted centre
    assert smoothed[0][2] < smoothed[1][2] < smoothed[2][2] < official[2][2]
    with pytest.raises(ValueError, match="size_update_rate"):
        TrackerParams(size_update_rate=0.0)
