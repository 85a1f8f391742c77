"""Every metric and convention on hand-made sequences with hand-computed answers."""
import numpy as np
import pytest

from mixformerv2.evaluation.metrics import (ResultLengthError, aggregate, iou, prepare_predictions,
                                            score_sequence)

BOX = [0.0, 0.0, 10.0, 10.0]


def gt_of(n, box=BOX):
    return np.tile(np.asarray(box, dtype=float), (n, 1))


def test_iou_continuous_coordinates():
    assert iou([[0, 0, 10, 10]], [[5, 0, 10, 10]])[0] == pytest.approx(50 / 150)
    assert iou([[0, 0, 10, 10]], [[20, 20, 5, 5]])[0] == 0.0
    assert iou([[0, 0, 0, 10]], [[0, 0, 0, 10]])[0] == 0.0  # empty union


def test_ope_curves_replace_frame_one_and_invalid_predictions():
    # frame 1 garbage -> replaced by the ground truth; frame 3 NaN -> previous prediction
    pred = [[99, 99, 1, 1], [5, 0, 10, 10], [np.nan, 0, 10, 10], [0, 0, 10, 10]]
    r = score_sequence("ope", pred, gt_of(4))
    # IoUs 1, 1/3, 1/3, 1: 7 thresholds (0..0.30) see 4/4, 13 (0.35..0.95) see 2/4, t=1 sees none
    assert r.success[0] == 1.0 and r.success[10] == 0.5 and r.success[20] == 0.0
    s = aggregate("ope", [r])
    assert s.auc == pytest.approx((7 * 1 + 13 * 0.5) / 21)
    assert s.op50 == 0.5 and s.op75 == 0.5
    # centre errors 0, 5, 5, 0 px
    assert s.precision == 1.0 and r.precision[4] == 0.5 and r.precision[5] == 1.0
    # normalized centre error 0.5: above 0.2
    assert s.norm_precision == 0.5


def test_non_positive_size_prediction_takes_previous_box():
    pred = prepare_predictions([[0, 0, 10, 10], [3, 3, 4, 4], [1, 1, 0, 5], [2, 2, -1, 5]], gt_of(4))
    np.testing.assert_array_equal(pred[2], [3, 3, 4, 4])
    np.testing.assert_array_equal(pred[3], [3, 3, 4, 4])


def test_prediction_kept_where_ground_truth_is_nan():
    gt = gt_of(3)
    gt[2] = np.nan
    pred = prepare_predictions([[0, 0, 10, 10], [1, 1, 5, 5], [np.nan] * 4], gt)
    assert np.isnan(pred[2]).all()


def test_invalid_ground_truth_fails_every_metric():
    gt = gt_of(4)
    gt[1] = [0, 0, 0, 10]        # zero width
    gt[2] = np.nan               # NaN row
    r = score_sequence("ope", gt_of(4), gt)  # predictions perfect where the ground truth is valid
    assert r.success[0] == 0.5 and r.precision[20] == 0.5 and r.norm_precision[20] == 0.5


def test_lasot_absent_frames_fail_everywhere_and_stay_in_denominator():
    r = score_sequence("lasot", gt_of(4), gt_of(4), visible=[1, 1, 0, 1])
    assert r.success[0] == 0.75 and r.precision[0] == 0.75 and r.norm_precision[0] == 0.75
    # pytracking-style OTB convention ignores visibility flags
    assert score_sequence("ope", gt_of(4), gt_of(4), visible=[1, 1, 0, 1]).success[0] == 1.0


def test_lasot_leaves_out_sequences_whose_curve_is_zero():
    good = score_sequence("lasot", gt_of(4), gt_of(4))                      # success 1 below t=1
    lost = score_sequence("lasot", [BOX] + [[50, 50, 10, 10]] * 3, gt_of(4))  # only frame 1 right
    never = score_sequence("lasot", gt_of(2), gt_of(2), visible=[0, 0])      # all absent: all-zero curves
    s = aggregate("lasot", [good, lost, never])
    assert s.auc == pytest.approx((20 / 21 + 0.25 * 20 / 21) / 2)
    assert s.excluded == {"success": 1, "precision": 1, "norm_precision": 1}
    assert aggregate("ope", [good, lost, never]).auc == pytest.approx((20 / 21 + 0.25 * 20 / 21) / 3)


def test_short_result_file_is_an_error_for_lasot_and_failures_for_pytracking_convention():
    with pytest.raises(ResultLengthError, match="3 boxes for a sequence of 4 frames"):
        score_sequence("lasot", gt_of(3), gt_of(4), source="x.txt")
    r = score_sequence("ope", gt_of(3), gt_of(4))
    assert r.success[0] == 0.75 and r.precision[20] == 0.75 and r.padded_frames == 1
    with pytest.raises(ResultLengthError):
        score_sequence("got10k", gt_of(3), gt_of(4))


def test_long_result_file_is_truncated():
    r = score_sequence("lasot", np.vstack([gt_of(4), [[50, 50, 1, 1]] * 3]), gt_of(4))
    assert r.success[0] == 1.0


def test_uav_nan_rows_two_conventions():
    gt = gt_of(4)
    gt[2] = np.nan
    pyt = score_sequence("uav-pytracking", gt_of(4), gt)
    assert pyt.success[0] == 0.75                     # NaN row fails success
    assert pyt.precision[0] == 1.0 and pyt.norm_precision[0] == 1.0  # ... and passes precision
    g10 = score_sequence("uav-got10k", gt_of(4), gt)
    assert g10.success[0] == 1.0 and g10.precision[0] == 1.0 and g10.num_frames == 3


def test_trackingnet_rounding_centres_and_trapezoids():
    gt = np.array([BOX, BOX])
    # rounds (half to even) to 0, 0, 11, 10: IoU 100/110, centre (6, 5.5) vs (5.5, 5.5)
    pred = np.array([[7, 7, 1, 1], [0.5, 0.4, 10.6, 9.5]])
    r = score_sequence("trackingnet", pred, gt)
    assert r.success[18] == 1.0 and r.success[19] == 0.5 and r.success[20] == 0.0
    s = aggregate("trackingnet", [r])
    assert s.auc == pytest.approx(0.9 + 0.0375 + 0.0125)         # 0.95, not the 21-point mean 0.9286
    assert s.precision == pytest.approx(0.0375 + 0.95)            # thresholds 0, 2.5, ... 50 px
    assert s.norm_precision == pytest.approx(0.025 + 0.0375 + 0.9)  # error 0.05 vs 0, 0.025, 0.05, ...
    assert s.op50 == 1.0


def test_got10k_pools_ious_over_frames_excludes_frame_one_and_invisible_frames():
    a = score_sequence("got10k", [BOX, [0, 0, 10, 5], BOX], gt_of(3), cover=[8, 8, 0])
    b = score_sequence("got10k", [BOX, BOX, [0, 0, 5, 5], BOX, BOX], gt_of(5), cover=[8, 1, 2, 3, 4])
    np.testing.assert_allclose(a.ious, [0.5])
    s = aggregate("got10k", [a, b])
    assert s.auc == pytest.approx(3.75 / 5)       # pooled; per-sequence averaging would give 0.65625
    assert s.op50 == pytest.approx(3 / 5) and s.op75 == pytest.approx(3 / 5)
    assert s.precision is None and s.norm_precision is None


def test_got10k_clips_boxes_to_the_image_and_pools_repetitions():
    gt = np.array([BOX, [15, 15, 10, 10]])
    r = score_sequence("got10k", [np.array([BOX, [15, 15, 5, 5]]), np.array([BOX, [0, 0, 5, 5]])], gt,
                       image_size=(20, 20))
    np.testing.assert_allclose(r.ious, [1.0, 0.0])
    nan = score_sequence("got10k", [BOX, [np.nan] * 4], np.array([BOX, BOX]))
    np.testing.assert_allclose(nan.ious, [0.0])


def test_json_entry_is_fractions():
    s = aggregate("ope", [score_sequence("ope", gt_of(3), gt_of(3))])
    assert s.as_dict() == {"auc": pytest.approx(20 / 21, abs=1e-6), "precision": 1.0, "norm_precision": 1.0,
                           "op50": 1.0, "op75": 1.0, "sequences": 1}


def test_unknown_convention():
    with pytest.raises(ValueError, match="unknown scoring convention"):
        score_sequence("vot-eao", gt_of(2), gt_of(2))


def test_result_file_longer_than_its_sequence_is_reported(caplog):
    import logging

    from mixformerv2.evaluation.metrics import prepare_predictions

    gt = np.tile([10.0, 10.0, 20.0, 20.0], (5, 1))
    with caplog.at_level(logging.WARNING):
        pred = prepare_predictions(np.tile([10.0, 10.0, 20.0, 20.0], (8, 1)), gt, source="seq.txt")
    assert len(pred) == 5
    assert "seq.txt: 8 boxes for a sequence of 5 frames; the last 3 are ignored" in caplog.text
