"""Losses as the spec defines them."""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from mixformerv2.train.actors import elimination_scale
from mixformerv2.train.losses import (box_iou_xyxy, ciou_loss, corner_marginals, feature_mse_loss, side_kl_loss)

TINY = dict(embed_dim=32, depth=4, num_heads=2, mlp_ratio=4.0, template_size=32, search_size=64, num_bins=16)


def reference_ciou(p, t):
    """CIoU of one pair of boxes computed by hand, scalars."""
    ix = max(0.0, min(p[2], t[2]) - max(p[0], t[0]))
    iy = max(0.0, min(p[3], t[3]) - max(p[1], t[1]))
    inter = ix * iy
    union = (p[2] - p[0]) * (p[3] - p[1]) + (t[2] - t[0]) * (t[3] - t[1]) - inter
    iou = inter / union
    d2 = ((p[0] + p[2]) / 2 - (t[0] + t[2]) / 2) ** 2 + ((p[1] + p[3]) / 2 - (t[1] + t[3]) / 2) ** 2
    c2 = (max(p[2], t[2]) - min(p[0], t[0])) ** 2 + (max(p[3], t[3]) - min(p[1], t[1])) ** 2
    v = 4 / math.pi ** 2 * (math.atan((t[2] - t[0]) / (t[3] - t[1])) - math.atan((p[2] - p[0]) / (p[3] - p[1]))) ** 2
    alpha = v / (1 - iou + v) if iou > 0.5 and v > 0 else 0.0
    return max(-1.0, min(1.0, iou - d2 / c2 - alpha * v)), iou


@pytest.mark.parametrize("pred,target", [
    ([0.1, 0.1, 0.5, 0.6], [0.1, 0.1, 0.5, 0.6]),      # identical
    ([0.1, 0.1, 0.5, 0.6], [0.15, 0.12, 0.5, 0.7]),    # IoU > 0.5: aspect term on
    ([0.1, 0.1, 0.3, 0.2], [0.2, 0.1, 0.6, 0.5]),      # IoU < 0.5: aspect term off
    ([0.0, 0.0, 0.1, 0.1], [0.8, 0.8, 0.95, 0.9]),     # disjoint
])
def test_ciou_matches_the_definition(pred, target):
    loss, iou = ciou_loss(torch.tensor([pred]), torch.tensor([target]))
    ciou, ref_iou = reference_ciou(pred, target)
    assert float(iou[0]) == pytest.approx(ref_iou, abs=1e-6)
    assert float(loss) == pytest.approx(1 - ciou, abs=1e-5)


def test_ciou_alpha_carries_no_gradient():
    pred = torch.tensor([[0.1, 0.1, 0.5, 0.6]], requires_grad=True)
    target = torch.tensor([[0.12, 0.1, 0.5, 0.7]])
    loss, _ = ciou_loss(pred, target)
    loss.backward()
    # Reference: alpha treated as a constant.
    p = pred.detach().clone().requires_grad_(True)
    iou = box_iou_xyxy(p, target)
    v = 4 / math.pi ** 2 * (torch.atan(torch.tensor(0.38 / 0.6)) - torch.atan((p[:, 2] - p[:, 0]) / (p[:, 3] - p[:, 1]))) ** 2
    alpha = (v / (1 - iou + v)).detach()
    cp, ct = (p[:, :2] + p[:, 2:]) / 2, (target[:, :2] + target[:, 2:]) / 2
    enc = torch.maximum(p[:, 2:], target[:, 2:]) - torch.minimum(p[:, :2], target[:, :2])
    ref = 1 - (iou - ((cp - ct) ** 2).sum(1) / (enc ** 2).sum(1) - alpha * v)
    ref.sum().backward()
    torch.testing.assert_close(pred.grad, p.grad, atol=1e-5, rtol=1e-4)


def test_corner_marginals_and_kl():
    m = 6
    prob_tl = torch.rand(3, m * m).softmax(-1)
    prob_br = torch.rand(3, m * m).softmax(-1)
    sides = corner_marginals(prob_tl, prob_br)
    grid = prob_tl.reshape(3, m, m)  # rows = y
    torch.testing.assert_close(sides["l"], grid.sum(1))
    torch.testing.assert_close(sides["t"], grid.sum(2))
    for s in sides.values():
        torch.testing.assert_close(s.sum(-1), torch.ones(3))
    logits = {k: v.log() for k, v in sides.items()}
    assert float(side_kl_loss(logits, sides)) == pytest.approx(0.0, abs=1e-6)
    other = {k: torch.randn(3, m) for k in sides}
    expected = sum(F.kl_div(F.log_softmax(other[k], -1), sides[k], reduction="batchmean") for k in sides) / 4
    assert float(side_kl_loss(other, sides)) == pytest.approx(float(expected), rel=1e-6)
    with pytest.raises(ValueError, match="num_bins"):
        side_kl_loss({k: torch.randn(3, m + 1) for k in sides}, sides)


def test_feature_mse_pairs():
    s = [torch.randn(2, 5, 4) for _ in range(2)]
    t = [torch.randn(2, 5, 4) for _ in range(4)]
    expected = (F.mse_loss(s[0], t[1]) + F.mse_loss(s[1], t[3])) / 2
    assert float(feature_mse_loss(s, t, [[0, 1], [1, 3]])) == pytest.approx(float(expected))
    with pytest.raises(ValueError, match="outside"):
        feature_mse_loss(s, t, [[2, 0]])


def test_elimination_schedule():
    assert elimination_scale(0, 40) == pytest.approx(0.5 * (1 + math.cos(math.pi * 2 / 40)))
    assert elimination_scale(38, 40) == pytest.approx(0.0, abs=1e-12)
    assert elimination_scale(100, 40) == pytest.approx(0.0, abs=1e-12)
    values = [elimination_scale(e, 10) for e in range(10)]
    assert values == sorted(values, reverse=True)
