"""Presets equal the released models key for key; fixed tables and epsilons are the official ones."""
import math

import pytest
import torch
from torch import nn

from conftest import shared_path
from mixformerv2 import build_model
from mixformerv2.model.cost import mac_counts, parameter_counts
from mixformerv2.model.layers import sincos_pos_embed_2d

MAE_EXTRAS = {"backbone.cls_token", "backbone.pos_embed", "backbone.norm.weight", "backbone.norm.bias",
              "backbone.head.weight", "backbone.head.bias"}


def official_keys(name):
    rows = shared_path("fixtures", name).read_text().split("\n")
    keys = {}
    for row in filter(None, rows):
        key, shape = row.split()
        keys[key] = tuple(int(n) for n in shape.strip("[]").split(",") if n)
    return keys


@pytest.mark.parametrize("preset,keyfile,ignored", [
    ("mixformerv2-b", "official_keys_B.txt", set()),
    ("mixformerv2-s", "official_keys_S.txt", set()),
    ("mixvit-b", "official_keys_mixvit_b.txt", MAE_EXTRAS),
])
def test_state_dict_equals_official_key_list(preset, keyfile, ignored):
    expected = official_keys(keyfile)
    ours = {k: tuple(v.shape) for k, v in build_model(preset).state_dict().items()}
    assert set(expected) - set(ours) == ignored
    assert set(ours) - set(expected) == set()
    assert {k: s for k, s in expected.items() if k not in ignored} == ours


@pytest.mark.parametrize("preset,total,backbone", [
    ("mixformerv2-b", 58_855_201, 57_597_696),
    ("mixformerv2-s", 16_228_897, 14_971_392),
])
def test_parameter_counts(preset, total, backbone):
    counts = parameter_counts(build_model(preset))
    assert counts == {"total": total, "backbone": backbone, "box_head": 666_144, "score_head": 591_361}


def test_s_preset_macs_match_the_published_accounting():
    macs = mac_counts(build_model("s"))
    assert round(macs["full_forward"] / 1e9, 2) == 4.82
    assert round(macs["search_step"] / 1e9, 2) == 3.32
    assert round(macs["template_encoding"] / 1e9, 2) == 1.50


@pytest.mark.parametrize("dim,grid", [(64, 2), (768, 7), (768, 18)])
def test_sincos_table_equals_direct_formula(dim, grid):
    table = sincos_pos_embed_2d(dim, grid)
    assert table.shape == (grid * grid, dim)
    quarter = dim // 4
    for token in range(0, grid * grid, max(1, grid * grid // 7)):
        row, col = divmod(token, grid)
        for k in range(0, quarter, max(1, quarter // 5)):
            omega = 10000 ** (-k / quarter)
            assert table[token, k].item() == pytest.approx(math.sin(col * omega), abs=1e-6)
            assert table[token, quarter + k].item() == pytest.approx(math.cos(col * omega), abs=1e-6)
            assert table[token, 2 * quarter + k].item() == pytest.approx(math.sin(row * omega), abs=1e-6)
            assert table[token, 3 * quarter + k].item() == pytest.approx(math.cos(row * omega), abs=1e-6)


def test_model_tables_are_frozen_and_filled():
    model = build_model("s")
    assert not model.backbone.pos_embed_t.requires_grad and not model.backbone.pos_embed_s.requires_grad
    assert torch.equal(model.backbone.pos_embed_s[0], sincos_pos_embed_2d(768, 14))
    assert torch.equal(model.backbone.pos_embed_t[0], sincos_pos_embed_2d(768, 7))


def test_layer_norm_epsilons():
    model = build_model("s")
    backbone_eps = {m.eps for m in model.backbone.modules() if isinstance(m, nn.LayerNorm)}
    head_eps = {m.eps for m in model.box_head.modules() if isinstance(m, nn.LayerNorm)}
    assert backbone_eps == {1e-6}
    assert head_eps == {1e-5}
