"""The official implementation's outputs for a tiny randomized checkpoint, reproduced through both paths."""
import pytest
import torch

from conftest import shared_path
from mixformerv2 import build_model, load_checkpoint

T1_CONFIG = dict(embed_dim=64, depth=2, num_heads=4, mlp_ratio=4, template_size=32, search_size=64, num_bins=16)
SIDES = ("l", "t", "r", "b")
TOL = 1e-5


@pytest.fixture(scope="module")
def official():
    ckpt = shared_path("fixtures", "official_T1.pth.tar")
    io = torch.load(shared_path("fixtures", "official_T1_io.pt"), weights_only=True)
    return load_checkpoint(ckpt, T1_CONFIG), io


def assert_close(actual, expected, name):
    assert actual.shape == expected.shape, f"{name}: shape {tuple(actual.shape)} vs {tuple(expected.shape)}"
    err = (actual - expected).abs().max().item()
    assert err <= TOL, f"{name}: max abs error {err:.3g} > {TOL}"


def test_checkpoint_loads_strictly_into_the_stated_config():
    state = torch.load(shared_path("fixtures", "official_T1.pth.tar"), weights_only=True)["net"]
    model = build_model(T1_CONFIG)
    model.load_state_dict(state, strict=True)
    assert sum(p.numel() for p in model.parameters()) == 160_561
    assert len(model.state_dict()) == 42


@torch.no_grad()
@pytest.mark.parametrize("path", ["full", "cached"])
def test_outputs_equal_official(official, path):
    model, io = official
    if path == "full":
        out = model(io["template"], io["online_template"], io["search"], return_features=True)
    else:
        cache = model.encode_templates(io["template"], io["online_template"])
        out = model.forward_search(io["search"], cache, return_features=True)
    for key in ["pred_boxes", "pred_scores", "reg_tokens"] + [f"prob_{s}" for s in SIDES]:
        assert_close(out[key], io[key], key)
    assert len(out["features"]) == 2
    for i, feat in enumerate(out["features"]):
        assert_close(feat, io[f"distill_feat_{i}"], f"distill_feat_{i}")
    assert_close(out["features"][-1], io["distill_feat_last"], "distill_feat_last")


@torch.no_grad()
@pytest.mark.parametrize("path", ["full", "cached"])
def test_logits_equal_official(official, path):
    model, io = official
    if path == "full":
        out = model(io["template"], io["online_template"], io["search"], return_logits=True)
    else:
        out = model.forward_search(io["search"], model.encode_templates(io["template"], io["online_template"]),
                                   return_logits=True)
    for s in SIDES:
        assert_close(out[f"prob_{s}"], io[f"nosoftmax_prob_{s}"], f"nosoftmax_prob_{s}")
    assert_close(out["pred_boxes"], io["nosoftmax_pred_boxes"], "nosoftmax_pred_boxes")
    assert_close(out["pred_scores"], io["nosoftmax_pred_scores"], "nosoftmax_pred_scores")


@torch.no_grad()
def test_single_sample_cached_path_equals_official_cached_outputs(official):
    model, io = official
    cache = model.encode_templates(io["template"][:1], io["online_template"][:1])
    out = model.forward_search(io["search"][:1], cache)
    for key in ("pred_boxes", "pred_scores", "reg_tokens"):
        assert_close(out[key], io[f"cached_b0_{key}"], f"cached_b0_{key}")
    # The target template's tokens after the last block, as the official cached path returns them.
    n_t, g = model.config.num_template_tokens, model.config.template_grid
    template_2d = cache.tokens[-1][:, :n_t].transpose(1, 2).reshape(1, -1, g, g)
    assert_close(template_2d, io["cached_b0_template_feat_2d"], "cached_b0_template_feat_2d")


def test_config_inferred_from_checkpoint_has_the_right_shapes():
    model = load_checkpoint(shared_path("fixtures", "official_T1.pth.tar"))
    c = model.config
    assert (c.embed_dim, c.depth, c.template_size, c.search_size, c.num_bins, c.mlp_hidden_dim) == (64, 2, 32, 64, 16, 256)
