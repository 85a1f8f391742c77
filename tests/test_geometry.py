"""Crop, normalisation, map-back and clip against hand-computed values (spec section 4)."""
import math

import cv2
import numpy as np
import pytest
import torch

from mixformerv2.geometry import (IMAGENET_MEAN, IMAGENET_STD, clip_box, crop_frame, crop_window,
                                           map_box_back, normalize_crop)

W, H = 100, 80


def coordinate_frame():
    """R = column + 1, G = row + 1, B = 7: every pixel names its position; 0 marks padding."""
    frame = np.zeros((H, W, 3), np.uint8)
    frame[:, :, 0] = np.arange(1, W + 1, dtype=np.uint8)[None, :]
    frame[:, :, 1] = np.arange(1, H + 1, dtype=np.uint8)[:, None]
    frame[:, :, 2] = 7
    return frame


def expected_patch(x1, y1, side, quirk):
    """Hand-built crop: pixel (r, c) shows frame (y1 + r, x1 + c) when that lies in the usable frame."""
    last_col = W - 1 if quirk and x1 + side >= W else W
    last_row = H - 1 if quirk and y1 + side >= H else H
    patch = np.zeros((side, side, 3), np.uint8)
    for r in range(side):
        for c in range(side):
            x, y = x1 + c, y1 + r
            if 0 <= x < last_col and 0 <= y < last_row:
                patch[r, c] = (x + 1, y + 1, 7)
    return patch


# box (x, y, w, h), factor -> hand-computed (x1, y1, side)
WINDOWS = [
    ((40, 30, 10, 10), 2.0, (35, 25, 20)),      # inside
    ((0, 30, 10, 10), 4.0, (-15, 15, 40)),      # left border
    ((90, 30, 10, 10), 4.0, (75, 15, 40)),      # right border: x2 = 115 > W
    ((75, 30, 10, 10), 4.0, (60, 15, 40)),      # crop ends exactly at W (x2 = 100)
    ((74, 30, 10, 10), 4.0, (59, 15, 40)),      # crop ends at W - 1: no padding at all
    ((40, 0, 10, 10), 4.0, (25, -15, 40)),      # top border
    ((40, 70, 10, 10), 4.0, (25, 55, 40)),      # bottom border: y2 = 95 > H
    ((40, 55, 10, 10), 4.0, (25, 40, 40)),      # crop ends exactly at H (y2 = 80)
    ((-5, -5, 10, 10), 4.0, (-20, -20, 40)),    # top-left corner, box partly outside
    ((95, 75, 10, 10), 4.0, (80, 60, 40)),      # bottom-right corner, box partly outside
    ((30, 20, 40, 40), 5.0, (-50, -60, 200)),   # crop larger than the frame on every side
    ((40, 30, 10, 10), 2.5, (32, 22, 25)),      # round(32.5) = 32 and round(22.5) = 22: half to even
    ((41, 31, 10, 10), 2.5, (34, 24, 25)),      # round(33.5) = 34, round(23.5) = 24
    ((40, 30, 10, 12), 2.0, (34, 25, 22)),      # side = ceil(sqrt(120) * 2) = ceil(21.9) = 22
]


@pytest.mark.parametrize("box,factor,expected", WINDOWS)
def test_crop_window_hand_computed(box, factor, expected):
    window = crop_window(box, factor, output_size=64)
    assert (window.x1, window.y1, window.side) == expected
    assert window.resize_factor == 64 / expected[2]


def test_python_rounding_differs_from_floor_half_up():
    # cx - side/2 = 32.5: Python's round gives 32, floor(x + 0.5) would give 33.
    assert crop_window((40, 30, 10, 10), 2.5, 25).x1 == 32
    assert math.floor(32.5 + 0.5) == 33


@pytest.mark.parametrize("quirk", [True, False])
@pytest.mark.parametrize("box,factor,expected", WINDOWS)
def test_crop_pixels_hand_computed(box, factor, expected, quirk):
    x1, y1, side = expected
    frame = coordinate_frame()
    window = crop_window(box, factor, output_size=side)  # no resize: pixels compare exactly
    patch = crop_frame(frame, window, side, far_side_padding_quirk=quirk)
    np.testing.assert_array_equal(patch, expected_patch(x1, y1, side, quirk))


def test_quirk_blanks_last_column_and_row_only_when_the_crop_reaches_the_border():
    frame = coordinate_frame()
    # ends exactly at W: the last frame column (value W) is zero with the quirk, present without it
    window = crop_window((75, 30, 10, 10), 4.0, 40)
    with_quirk = crop_frame(frame, window, 40, True)
    without = crop_frame(frame, window, 40, False)
    assert with_quirk[:, 39, 0].max() == 0 and (without[:, 39, 0] == W).all()
    np.testing.assert_array_equal(with_quirk[:, :39], without[:, :39])
    # ends at W - 1: identical either way
    window = crop_window((74, 30, 10, 10), 4.0, 40)
    np.testing.assert_array_equal(crop_frame(frame, window, 40, True), crop_frame(frame, window, 40, False))
    # bottom border
    window = crop_window((40, 70, 10, 10), 4.0, 40)
    with_quirk = crop_frame(frame, window, 40, True)
    assert with_quirk[24, :, 1].max() == 0            # frame row 79 (y1 = 55 -> patch row 24) blanked
    assert with_quirk[23, 15, 1] == 79                # frame row 78 kept
    assert crop_frame(frame, window, 40, False)[24, 15, 1] == 80


@pytest.mark.parametrize("box,factor,expected", WINDOWS[:11])
def test_crop_resize_is_bilinear_of_the_padded_window(box, factor, expected):
    x1, y1, side = expected
    frame = coordinate_frame()
    window = crop_window(box, factor, output_size=24)
    resized = crop_frame(frame, window, 24, True)
    reference = cv2.resize(expected_patch(x1, y1, side, True), (24, 24), interpolation=cv2.INTER_LINEAR)
    np.testing.assert_array_equal(resized, reference)


def test_crop_entirely_outside_is_all_zero():
    frame = coordinate_frame()
    window = crop_window((300, 300, 10, 10), 2.0, 20)
    assert not crop_frame(frame, window, 20).any()


def test_crop_side_must_be_positive():
    with pytest.raises(ValueError, match="too small"):
        crop_window((10, 10, 0, 5), 2.0, 20)


def test_normalize_matches_official_preprocessor():
    patch = np.random.default_rng(0).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    img = torch.tensor(patch).float().permute((2, 0, 1)).unsqueeze(dim=0)
    mean = torch.tensor(IMAGENET_MEAN).view((1, 3, 1, 1))
    std = torch.tensor(IMAGENET_STD).view((1, 3, 1, 1))
    official = (((img / 255.0) - mean) / std)[0].numpy()
    ours = normalize_crop(patch)
    assert ours.dtype == np.float32 and ours.shape == (3, 16, 16)
    np.testing.assert_array_equal(ours, official)
    out = np.empty((3, 16, 16), np.float32)
    assert normalize_crop(patch, out=out) is not None
    np.testing.assert_array_equal(out, official)
    # channel 0 of a pixel of value 255 is (1 - 0.485) / 0.229
    assert abs(normalize_crop(np.full((1, 1, 3), 255, np.uint8))[0, 0, 0] - (1 - 0.485) / 0.229) < 1e-6


def test_map_back_hand_computed():
    # previous box (40, 30, 10, 10), search factor 4 -> side 40; search size 20 -> resize factor 0.5
    pred = np.array([0.5, 0.5, 0.25, 0.25], np.float32)   # centre of the crop, 10 x 10 px
    assert map_box_back(pred, (40, 30, 10, 10), 20, 0.5) == (40.0, 30.0, 10.0, 10.0)
    # a prediction 0.1 crop-widths right and 0.2 down: +4 px, +8 px
    pred = np.array([0.6, 0.7, 0.25, 0.5], np.float32)
    x, y, w, h = map_box_back(pred, (40, 30, 10, 10), 20, 0.5)
    assert w == pytest.approx(10.0) and h == pytest.approx(20.0)
    assert x == pytest.approx(45 + 4 - 5) and y == pytest.approx(35 + 8 - 10)


def test_map_back_uses_the_unrounded_previous_centre():
    # previous centre 45.3: the crop corner is round(45.3 - 20) = 25, but the map-back shifts by 25.3
    assert crop_window((40.3, 30, 10, 10), 4.0, 20).x1 == 25
    x, _, _, _ = map_box_back(np.array([0.5, 0.5, 0.25, 0.25], np.float32), (40.3, 30, 10, 10), 20, 0.5)
    assert x == pytest.approx(40.3, abs=1e-9)


def test_map_back_equals_the_official_float32_arithmetic():
    rng = np.random.default_rng(1)
    for _ in range(200):
        pred = rng.random(4).astype(np.float32)
        search_size = int(rng.choice([224, 288]))
        resize_factor = search_size / int(rng.integers(20, 2000))
        prev = [float(v) for v in rng.random(4) * 300]
        scaled = (torch.from_numpy(pred).view(1, 4).mean(dim=0) * search_size / resize_factor).tolist()
        cx, cy, w, h = scaled
        half = 0.5 * search_size / resize_factor
        cx_real = cx + (prev[0] + 0.5 * prev[2] - half)
        cy_real = cy + (prev[1] + 0.5 * prev[3] - half)
        official = (cx_real - 0.5 * w, cy_real - 0.5 * h, w, h)
        assert map_box_back(pred, prev, search_size, resize_factor) == official


@pytest.mark.parametrize("box,expected", [
    ((10, 20, 30, 40), (10, 20, 30, 40)),        # inside: unchanged
    ((-5, 70, 30, 20), (0, 70, 25, 10)),         # left and bottom
    ((95, -20, 2, 3), (90, 0, 10, 10)),          # right and top, tiny box grows to 10 px
    ((150, 20, 10, 10), (90, 20, 10, 10)),       # entirely right of the frame
    ((-50, -50, 20, 20), (0, 0, 10, 10)),        # entirely above-left
    ((-10, -10, 200, 200), (0, 0, 100, 80)),     # larger than the frame
])
def test_clip_box_hand_computed(box, expected):
    assert clip_box(box, H, W) == pytest.approx(expected)


def test_clip_box_on_a_frame_smaller_than_the_margin():
    # W = 6 < 10: x1 goes to W - 10 = -4 and the box keeps its 10 px minimum (official behaviour)
    assert clip_box((1, 1, 3, 3), 5, 6) == pytest.approx((-4, -5, 10, 10))
