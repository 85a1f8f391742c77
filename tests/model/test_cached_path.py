"""The cached search step equals the full forward for every variant, batch size and template count."""
import pytest
import torch

from mixformerv2 import TemplateCache, build_model

TINY = dict(embed_dim=64, depth=3, num_heads=4, mlp_ratio=2, template_size=32, search_size=64, num_bins=16)


def images(batch, size, seed):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(batch, 3, size, size, generator=g)


def assert_outputs_close(a, b, tol=1e-5):
    assert set(a) == set(b)
    for key in a:
        if key == "features":
            for fa, fb in zip(a[key], b[key]):
                assert (fa - fb).abs().max().item() <= tol
        else:
            assert (a[key] - b[key]).abs().max().item() <= tol, key


@torch.no_grad()
@pytest.mark.parametrize("config", [TINY, dict(TINY, head="corner"), dict(TINY, active_blocks=[0, 2])])
@pytest.mark.parametrize("num_online", [0, 1, 3])
def test_cached_equals_full(config, num_online):
    torch.manual_seed(0)
    model = build_model(config).eval()
    batch = 3
    template = images(batch, 32, 1)
    online = [images(batch, 32, 10 + j) for j in range(num_online)]
    search = images(batch, 64, 2)
    full = model(template, online, search, return_features=True)
    cache = model.encode_templates(template, online)
    assert cache.num_tokens == 4 * (1 + num_online)
    cached = model.forward_search(search, cache, return_features=True)
    assert_outputs_close(full, cached)
    assert full["pred_boxes"].shape == (batch, 1, 4)
    n_tokens = 4 * (1 + num_online) + 16 + model.config.num_prediction_tokens
    assert all(f.shape == (batch, n_tokens, 64) for f in full["features"])


@torch.no_grad()
def test_online_templates_as_5d_tensor_equal_list():
    model = build_model(TINY).eval()
    template, search = images(2, 32, 1), images(2, 64, 2)
    online = [images(2, 32, 3), images(2, 32, 4)]
    a = model(template, online, search)
    b = model(template, torch.stack(online, dim=1), search)
    assert torch.equal(a["pred_boxes"], b["pred_boxes"])


@torch.no_grad()
def test_online_templates_change_the_output():
    model = build_model(TINY).eval()
    template, search = images(1, 32, 1), images(1, 64, 2)
    a = model(template, images(1, 32, 3), search)["pred_boxes"]
    b = model(template, images(1, 32, 4), search)["pred_boxes"]
    assert not torch.allclose(a, b)


@torch.no_grad()
def test_cache_of_batch_one_is_shared_by_many_search_crops():
    model = build_model(TINY).eval()
    template, online = images(1, 32, 1), images(1, 32, 3)
    search = images(4, 64, 2)
    shared = model.forward_search(search, model.encode_templates(template, online))
    for i in range(4):
        single = model(template, online, search[i:i + 1])
        assert torch.allclose(shared["pred_boxes"][i], single["pred_boxes"][0], atol=1e-5)


@torch.no_grad()
def test_cache_select_and_cat_follow_the_batch():
    model = build_model(TINY).eval()
    template, online, search = images(3, 32, 1), images(3, 32, 3), images(3, 64, 2)
    cache = model.encode_templates(template, online)
    reordered = TemplateCache.cat([cache.select([2]), cache.select([0, 1])])
    out = model.forward_search(search[[2, 0, 1]], reordered)
    ref = model(template, online, search)
    assert torch.allclose(out["pred_boxes"], ref["pred_boxes"][[2, 0, 1]], atol=1e-6)


@torch.no_grad()
def test_inactive_blocks_act_as_identity_like_a_zero_residual_scale():
    torch.manual_seed(0)
    full = build_model(TINY).eval()
    pruned = build_model(dict(TINY, active_blocks=[1, 2])).eval()
    pruned.load_state_dict(full.state_dict())
    full.set_residual_scale([0], 0.0)
    template, online, search = images(2, 32, 1), images(2, 32, 3), images(2, 64, 2)
    a, b = full(template, online, search), pruned(template, online, search)
    assert torch.allclose(a["pred_boxes"], b["pred_boxes"], atol=1e-6)
    assert len(pruned(template, online, search, return_features=True)["features"]) == 2


@torch.no_grad()
def test_token_head_distribution_and_box_semantics():
    model = build_model(TINY).eval()
    out = model(images(2, 32, 1), images(2, 32, 3), images(2, 64, 2))
    bins = torch.arange(16) / 16
    for side in "ltrb":
        p = out[f"prob_{side}"]
        assert p.shape == (2, 16) and torch.allclose(p.sum(-1), torch.ones(2))
    l, t, r, b = ((out[f"prob_{s}"] * bins).sum(-1) for s in "ltrb")
    expected = torch.stack([(l + r) / 2, (t + b) / 2, r - l, b - t], dim=-1)
    assert torch.allclose(out["pred_boxes"][:, 0], expected, atol=1e-6)
    assert out["pred_scores"].shape == (2,)


@torch.no_grad()
def test_corner_head_outputs():
    model = build_model(dict(TINY, head="corner")).eval()
    out = model(images(2, 32, 1), images(2, 32, 3), images(2, 64, 2))
    m = model.config.corner_map_size
    assert m == 16 and out["prob_tl"].shape == (2, m * m)
    assert torch.allclose(out["prob_tl"].sum(-1), torch.ones(2))
    grid = out["prob_tl"].reshape(2, m, m)
    x1 = (grid.sum(1) * torch.arange(m) / m).sum(-1)
    y1 = (grid.sum(2) * torch.arange(m) / m).sum(-1)
    box = out["pred_boxes"][:, 0]
    assert torch.allclose(box[:, 0] - box[:, 2] / 2, x1, atol=1e-6)
    assert torch.allclose(box[:, 1] - box[:, 3] / 2, y1, atol=1e-6)
    assert "pred_scores" not in out
