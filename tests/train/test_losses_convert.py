"""Losses as the spec defines them, and the weight conversions between stages."""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from mixformerv2.model import build_model, load_checkpoint, save_checkpoint
from mixformerv2.train.actors import elimination_scale
from mixformerv2.train.convert import (load_mae_backbone, load_weights, prune_model, reduce_mlp_state,
                                       remove_blocks_from_state)
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


def test_pruning_keeps_surviving_blocks_and_their_function():
    torch.manual_seed(0)
    model = build_model(TINY).eval()
    pruned = prune_model(model, [0, 2]).eval()
    assert pruned.config.depth == 2 and len(pruned.backbone.blocks) == 2
    old, new = model.state_dict(), pruned.state_dict()
    for new_i, old_i in ((0, 1), (1, 3)):
        for k, v in new.items():
            if k.startswith(f"backbone.blocks.{new_i}."):
                assert torch.equal(v, old[k.replace(f"blocks.{new_i}.", f"blocks.{old_i}.", 1)]), k
    for k in new:
        if not k.startswith("backbone.blocks."):
            assert torch.equal(new[k], old[k]), k
    # Same function as the full model with the removed blocks faded to zero (end of progressive elimination).
    model.set_residual_scale([0, 2], 0.0)
    x = (torch.randn(2, 3, 32, 32), torch.randn(2, 3, 32, 32), torch.randn(2, 3, 64, 64))
    with torch.no_grad():
        a, b = model(*x, return_features=True), pruned(*x, return_features=True)
    torch.testing.assert_close(a["pred_boxes"], b["pred_boxes"], atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(a["features"][3], b["features"][1], atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match="would leave no block"):
        remove_blocks_from_state(model.state_dict(), [0, 1, 2, 3])
    with pytest.raises(ValueError, match="cannot remove blocks"):
        remove_blocks_from_state(model.state_dict(), [7])


def test_prune_command_and_mlp_reduction(tmp_path):
    from mixformerv2.cli import main

    model = build_model(TINY)
    save_checkpoint(model, tmp_path / "in.pth")
    assert main(["prune", str(tmp_path / "in.pth"), str(tmp_path / "out.pth"), "--remove", "1,3", "--mlp-ratio", "1"]) == 0
    out = load_checkpoint(tmp_path / "out.pth")
    assert out.config.depth == 2 and out.config.mlp_hidden_dim == 32
    state = reduce_mlp_state(model.state_dict(), 32)
    w1 = model.state_dict()["backbone.blocks.2.mlp.fc1.weight"]  # survivor 2 becomes block 1
    w2 = model.state_dict()["backbone.blocks.2.mlp.fc2.weight"]
    keep = (w1.norm(dim=1) * w2.norm(dim=0)).topk(32).indices.sort().values
    assert torch.equal(out.state_dict()["backbone.blocks.1.mlp.fc1.weight"], w1[keep])
    assert torch.equal(out.state_dict()["backbone.blocks.1.mlp.fc2.weight"], w2[:, keep])
    torch.testing.assert_close(state["backbone.blocks.2.mlp.fc2.weight"], w2[:, keep])
    assert main(["prune", str(tmp_path / "in.pth"), str(tmp_path / "x.pth"), "--remove", "9"]) == 2


def test_mae_initialisation_from_a_local_file(tmp_path):
    torch.manual_seed(1)
    donor = build_model(dict(TINY, depth=6))  # a "MAE encoder" with more blocks than the student
    mae = {k[len("backbone."):]: v for k, v in donor.state_dict().items()
           if k.startswith("backbone.patch_embed.") or k.startswith("backbone.blocks.")}
    mae.update({"cls_token": torch.zeros(1, 1, 32), "pos_embed": torch.zeros(1, 5, 32), "norm.weight": torch.ones(32),
                "norm.bias": torch.zeros(32), "mask_token": torch.zeros(1, 1, 32),
                "decoder_embed.weight": torch.zeros(16, 32)})
    torch.save({"model": mae}, tmp_path / "mae.pth")
    student = build_model(dict(TINY, head="corner"))
    assert load_mae_backbone(student, str(tmp_path / "mae.pth")) == (4, 6)
    for k, v in student.state_dict().items():
        if k.startswith("backbone.blocks.") or k.startswith("backbone.patch_embed."):
            assert torch.equal(v, donor.state_dict()[k]), k
    torch.save({"model": {"foo": torch.zeros(1)}}, tmp_path / "bad.pth")
    with pytest.raises(ValueError, match="not a MAE"):
        load_mae_backbone(student, str(tmp_path / "bad.pth"))


def test_partial_load_and_other_crop_sizes(tmp_path):
    teacher = build_model(dict(TINY, head="corner"))
    save_checkpoint(teacher, tmp_path / "teacher.pth")
    student = build_model(dict(TINY, template_size=48, search_size=96))
    load_weights(student, str(tmp_path / "teacher.pth"), partial=True)
    assert torch.equal(student.state_dict()["backbone.blocks.2.attn.qkv.weight"],
                       teacher.state_dict()["backbone.blocks.2.attn.qkv.weight"])
    with pytest.raises(ValueError, match="does not fit"):
        load_weights(build_model(TINY), str(tmp_path / "teacher.pth"))
