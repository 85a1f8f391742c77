"""The prediction-token attention loss (an addition to the published recipe, loss.token_attention)."""
import json

import torch

from mixformerv2 import build_model
from mixformerv2.train.losses import edge_midpoint_targets, token_attention_loss

TINY_TOKENS = dict(embed_dim=32, depth=3, num_heads=2, mlp_ratio=2.0, template_size=32, search_size=64, num_bins=16)


def test_edge_midpoint_targets_peak_at_the_side_midpoints():
    gt = torch.tensor([[0.1, 0.3, 0.6, 0.9]])  # x1, y1, x2, y2
    maps = edge_midpoint_targets(gt, grid=8).reshape(1, 4, 8, 8)
    assert torch.allclose(maps.sum((-1, -2)), torch.ones(1, 4))
    peaks = [divmod(int(m.argmax()), 8) for m in maps[0]]  # (row, column) per token l, r, t, b
    cy, cx = int(0.6 * 8), int(0.35 * 8)
    assert peaks == [(cy, 0), (cy, 4), (2, cx), (7, cx)]


def test_token_attention_loss_trains_the_tokens_to_look_at_the_target():
    torch.manual_seed(0)
    model = build_model(TINY_TOKENS)
    template, search = torch.randn(2, 3, 32, 32), torch.randn(2, 3, 64, 64)
    gt = torch.tensor([[0.1, 0.1, 0.3, 0.4], [0.5, 0.6, 0.9, 0.8]])
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(30):
        out = model(template, template, search, return_features=True)
        loss = token_attention_loss(model, out["features"], gt)
        optimizer.zero_grad()
        loss.backward()
        if not losses:
            assert model.backbone.reg_tokens.grad.abs().sum() > 0
            assert model.box_head.layers[0][0].weight.grad is None  # only where the tokens look
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.7 * losses[0]


def test_teacher_stage_reports_the_token_attention_loss_for_token_heads_only(tmp_path, monkeypatch):
    from mixformerv2.train import Trainer, load_config
    from train_helpers import TINY, fast_overrides

    monkeypatch.chdir(tmp_path)
    for head, expected in (("tokens", True), ("corner", False)):
        config = load_config(TINY / "teacher.yaml", fast_overrides() + [
            f"model.head={head}", "loss.token_attention=1.0", f"output=runs/{head}"])
        trainer = Trainer(config, progress=False)
        trainer.run()
        trainer.close()
        stats = json.loads((tmp_path / f"runs/{head}/metrics.json").read_text())[0]["train"]
        assert ("token_attention" in stats) == expected, head



def test_attention_map_matches_the_blocks_attention_output():
    """The loss reads the attention the tracking path computes (same weights, same mask-free softmax)."""
    torch.manual_seed(0)
    model = build_model(TINY_TOKENS).eval()
    template, search = torch.randn(1, 3, 32, 32), torch.randn(1, 3, 64, 64)
    out = model(template, template, search, return_features=True)
    block, x = model.backbone.blocks[1], out["features"][0]
    n_t = x.shape[1] - model.config.num_search_tokens - 4
    probs = block.attention_map(x, queries=slice(n_t, None))  # search and prediction tokens
    v = block.attn.qkv(block.norm1(x)).reshape(1, x.shape[1], 3, 2, 16).permute(2, 0, 3, 1, 4)[2]
    mixed = (probs @ v).transpose(1, 2).reshape(1, -1, 32)
    cache = model.encode_templates(template, template)
    expected = block.attn.forward_search(block.norm1(x[:, n_t:]), cache.keys[1], cache.values[1])
    assert torch.allclose(block.attn.proj(mixed), expected, atol=1e-5)


def test_token_attention_loss_names_an_impossible_block_count():
    import pytest

    model = build_model(TINY_TOKENS)
    out = model(torch.randn(1, 3, 32, 32), None, torch.randn(1, 3, 64, 64), return_features=True)
    with pytest.raises(ValueError, match="1 to 2 are possible"):
        token_attention_loss(model, out["features"], torch.tensor([[0.1, 0.1, 0.5, 0.5]]), blocks=3)
