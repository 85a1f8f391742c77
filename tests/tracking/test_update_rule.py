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


class SpreadBackend(ScriptedBackend):
    """ScriptedBackend whose side distributions have the given variance (normalised crop units squared)."""

    def __init__(self, config, logits, box, variance):
        super().__init__(config, logits, box=box)
        self.variance = variance

    def search(self, cache, search):
        from mixformerv2.tracking.backends import SearchOutputs

        boxes, logits = super().search(cache, search)
        return SearchOutputs(boxes, logits, np.full((len(boxes), 4), self.variance, np.float32))


def test_size_filter_follows_sure_predictions_and_damps_unsure_ones():
    """The backend predicts a box twice the target's size (search factor 5: 0.4 of the crop for a 0.2 target). With
    sides known to within 0.002 of the crop (variance 4e-6) the filter moves the size nearly all the way at once;
    with sides spread over a fifth of the crop (variance 0.04) it moves a little, further each frame; both keep the
    predicted centre, and neither overshoots the prediction."""
    def sizes(variance, noise=0.02):
        box = (0.5, 0.5, 0.4, 0.4)
        backend = (ScriptedBackend(CONFIG, [0.0] * 4, box=box) if variance is None
                   else SpreadBackend(CONFIG, [0.0] * 4, box, variance))
        tracker = Tracker(None, TrackerParams(search_factor=5.0, size_filter_noise=noise), backend=backend)
        tracker.init(frame(0), BOX)
        return [tracker.update(frame(i)).box for i in range(1, 5)]

    sure, unsure = sizes(4e-6), sizes(0.04)
    assert sure[0][2] == pytest.approx(40.0, rel=0.02) and sure[0][3] == pytest.approx(40.0, rel=0.02)
    assert 20.0 < unsure[0][2] < 22.0
    assert unsure[0][2] < unsure[1][2] < unsure[2][2] < unsure[3][2] < 40.0
    for box in sure + unsure:
        assert box[0] + box[2] / 2 == pytest.approx(100.0, abs=0.5)       # the predicted centre
    # A larger noise trusts each prediction more; a backend without spreads (plain pair) gives the prediction.
    assert sizes(0.04, noise=0.2)[0][2] > unsure[0][2]
    plain = sizes(None)
    assert plain[0][2] == pytest.approx(40.0, abs=0.5)


def test_size_filter_settings_are_checked():
    with pytest.raises(ValueError, match="size_filter_noise"):
        TrackerParams(size_filter_noise=-0.1)
    with pytest.raises(ValueError, match="alternatives"):
        TrackerParams(size_update_rate=0.3, size_filter_noise=0.02)
    assert TrackerParams(size_filter_noise=0.02).size_filter_noise == 0.02


def test_search_outputs_carry_the_side_variances():
    from mixformerv2.tracking.backends import search_outputs

    probs = np.zeros((2, 16), np.float32)
    probs[0, 8] = 1.0                        # certain: variance 0
    probs[1, [4, 12]] = 0.5                  # two bins half a crop apart: variance (0.25)^2
    out = search_outputs(np.zeros((2, 4)), np.zeros(2), [probs, probs, probs, probs])
    boxes, logits = out                      # still unpacks as the pair
    assert boxes.shape == (2, 4) and out.side_variances.shape == (2, 4)
    assert out.side_variances[0] == pytest.approx([0.0] * 4, abs=1e-7)
    assert out.side_variances[1] == pytest.approx([0.0625] * 4, abs=1e-6)
    assert search_outputs(np.zeros((1, 4)), None).side_variances is None


@pytest.mark.parametrize("given, expected", [
    ({}, {}),
    ({"size_update_rate": 0.3}, {"size_update_rate": 0.3, "size_filter_noise": 0.0}),   # switches a card's filter off
    ({"size_filter_noise": 0.02}, {"size_update_rate": 1.0, "size_filter_noise": 0.02}),  # and a card's rate
    ({"size_update_rate": 1.0}, {"size_update_rate": 1.0}),
    ({"size_filter_noise": 0.0}, {"size_filter_noise": 0.0}),
])
def test_size_options_on_the_command_line_replace_the_cards_other_size_setting(given, expected):
    import argparse

    from mixformerv2.cli.common import add_tracker_setting_arguments, tracker_setting_overrides

    parser = argparse.ArgumentParser()
    add_tracker_setting_arguments(parser)
    argv = [f"--{name.replace('_', '-')}={value}" for name, value in given.items()]
    overrides = dict(tracker_setting_overrides(parser.parse_args(argv)))
    assert overrides == expected
    for card in (TrackerParams(size_filter_noise=0.02), TrackerParams(size_update_rate=0.3)):
        card.replace(**overrides)                  # never the invalid pair of a rate below 1 and a filter


def test_size_filter_keeps_the_size_for_a_degenerate_prediction():
    from mixformerv2.tracking.tracker import filter_size

    box, variance = filter_size((50.0, 50.0, -4.0, 10.0), (40.0, 40.0, 20.0, 20.0), (0.01, 0.01), (0.0, 0.0), 0.02)
    assert box[2] == 20.0 and 10.0 < box[3] < 20.0
    assert variance[0] == pytest.approx(0.02) and variance[1] < 0.02
