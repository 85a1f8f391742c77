"""Checkpoint surgery (model.surgery): the weight conversions between stages and from other models."""
from __future__ import annotations

import pytest
import torch

from mixformerv2.model import build_model, load_checkpoint, save_checkpoint
from mixformerv2.model.surgery import (load_mae_backbone, load_weights, prune_model, reduce_mlp_state,
                                       remove_blocks_from_state)

TINY = dict(embed_dim=32, depth=4, num_heads=2, mlp_ratio=4.0, template_size=32, search_size=64, num_bins=16)


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
