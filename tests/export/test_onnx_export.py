"""The exported ONNX graphs compute what PyTorch computes (within 1e-4), for any config, batch and template count."""
import json

import numpy as np
import onnx
import pytest
import torch

from mixformerv2 import build_model
from mixformerv2.cli import main
from mixformerv2.export import EXPORT_TOLERANCE, ExportError, ExportManifest, check_export, export_onnx
from mixformerv2.export.quantize import quantize_search_step
from mixformerv2.export.runtime import OnnxTrackingGraphs

TINY = dict(embed_dim=64, depth=3, num_heads=4, mlp_ratio=2, template_size=32, search_size=64, num_bins=16)


def tiny_model(config=TINY, seed=0):
    torch.manual_seed(seed)
    return build_model(config).eval()


@pytest.mark.parametrize("config", [TINY, dict(TINY, head="corner"), dict(TINY, active_blocks=[0, 2])],
                         ids=["tokens", "corner-head", "pruned"])
def test_exported_graphs_match_pytorch(tmp_path, config):
    model = tiny_model(config)
    manifest = export_onnx(model, tmp_path)
    # export_onnx checks batch 1/3/2 with 1/0/3 online templates (traced with batch 2 and 2 online templates).
    assert set(manifest.check) == {"keys", "values", *manifest.search_outputs}
    assert max(manifest.check.values()) <= EXPORT_TOLERANCE
    assert ExportManifest.load(tmp_path).model_config == model.config
    search_graph = onnx.load(str(tmp_path / "search_step.onnx"))
    meta = {p.key: p.value for p in search_graph.metadata_props}
    assert json.loads(meta["mixformerv2_config"]) == model.config.to_dict()
    # Free axes: batch and number of cached template tokens.
    search_input = {i.name: i for i in search_graph.graph.input}["keys"]
    dims = [d.dim_param or d.dim_value for d in search_input.type.tensor_type.shape.dim]
    running = len(model.config.running_blocks)
    assert dims == [running, "batch", 4, "template_tokens", 16]


def test_graphs_in_the_tracker_layout(tmp_path):
    """The runtime wrapper's outputs equal forward_search for two targets with three online templates each."""
    model = tiny_model()
    export_onnx(model, tmp_path, check=False)
    graphs = OnnxTrackingGraphs(tmp_path, threads=1)
    g = torch.Generator().manual_seed(5)
    template, online = torch.randn(2, 3, 32, 32, generator=g), torch.randn(2, 3, 3, 32, 32, generator=g)
    search = torch.randn(2, 3, 64, 64, generator=g)
    keys, values = graphs.encode(torch.cat([template[:, None], online], 1).numpy())
    assert keys.shape == (3, 2, 4, 16, 16)
    out = graphs.search(search.numpy(), keys, values)
    with torch.no_grad():
        expected = model.forward_search(search, model.encode_templates(template, online))
    for name in ("pred_boxes", "pred_scores", "prob_l", "prob_t", "prob_r", "prob_b"):
        np.testing.assert_allclose(out[name], expected[name].numpy(), atol=EXPORT_TOLERANCE, rtol=0)


def test_check_detects_graphs_of_other_weights(tmp_path):
    export_onnx(tiny_model(seed=0), tmp_path, check=False)
    with pytest.raises(ExportError, match="differ from PyTorch"):
        check_export(tiny_model(seed=1), tmp_path)


def test_int8_quantizes_only_the_backbone_weight_products(tmp_path):
    model = tiny_model()
    export_onnx(model, tmp_path, check=False)
    path = quantize_search_step(tmp_path, "dynamic")
    graph = onnx.load(str(path))
    ops = [n.op_type for n in graph.graph.node]
    assert ops.count("MatMulInteger") == 4 * model.config.depth  # qkv, proj, fc1, fc2 of each block
    assert ExportManifest.load(tmp_path).quantized["int8"]["mode"] == "dynamic"
    assert ExportManifest.load(tmp_path).quantized["int8"]["per_channel"] is True  # the default
    fp32, int8 = OnnxTrackingGraphs(tmp_path, "float32", 1), OnnxTrackingGraphs(tmp_path, "int8", 1)
    g = torch.Generator().manual_seed(3)
    keys, values = fp32.encode(torch.randn(1, 2, 3, 32, 32, generator=g).numpy())
    search = torch.randn(1, 3, 64, 64, generator=g).numpy()
    a, b = fp32.search(search, keys, values), int8.search(search, keys, values)
    assert not np.array_equal(a["prob_l"], b["prob_l"])  # it did change the arithmetic ...
    np.testing.assert_allclose(a["pred_boxes"], b["pred_boxes"], atol=0.02)  # ... but not the answer


def test_static_int8_needs_calibration(tmp_path):
    export_onnx(tiny_model(), tmp_path, check=False)
    with pytest.raises(ValueError, match="calibration"):
        quantize_search_step(tmp_path, "static")
    with pytest.raises(ValueError, match="unknown quantization mode"):
        quantize_search_step(tmp_path, "int4")


def test_missing_export_directory_is_a_clear_error(tmp_path):
    with pytest.raises(ExportError, match="manifest.json is missing"):
        OnnxTrackingGraphs(tmp_path)
    export_onnx(tiny_model(), tmp_path, check=False)
    with pytest.raises(ExportError, match="no int8 search step"):
        OnnxTrackingGraphs(tmp_path, "int8")


def test_export_command(tmp_path, capsys):
    config = tmp_path / "tiny.json"
    config.write_text(json.dumps(TINY))
    out = tmp_path / "onnx"
    assert main(["export", "--model", str(config), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "match PyTorch" in printed
    assert sorted(p.name for p in out.iterdir()) == ["manifest.json", "search_step.int8.onnx", "search_step.onnx",
                                                     "template_encoder.onnx"]
    assert main(["export", "--model", str(config), "--out", str(tmp_path / "x"), "--int8", "static"]) == 2
    assert "--calibration" in capsys.readouterr().err


@pytest.mark.slow
def test_small_model_export_matches_pytorch(tmp_path):
    """MixFormerV2-S (random weights): both graphs within 1e-4 of PyTorch."""
    manifest = export_onnx(tiny_model("mixformerv2-s"), tmp_path)
    assert max(manifest.check.values()) <= EXPORT_TOLERANCE


def test_static_int8_calibrated_on_real_crops(tmp_path, capsys):
    from conftest import shared_path

    sequences = [shared_path("data", "sequences", name) for name in ("otb-Crossing", "vot2015-ball1")]
    config = tmp_path / "tiny.json"
    config.write_text(json.dumps(TINY))
    out = tmp_path / "onnx"
    assert main(["export", "--model", str(config), "--out", str(out), "--int8", "static", "--calibration",
                 *map(str, sequences), "--calibration-frames", "6"]) == 0
    int8 = ExportManifest.load(out).quantized["int8"]
    assert int8["mode"] == "static" and int8["calibration_samples"] == 6 and int8["per_channel"] is True
    assert int8["quantized_matmuls"] == 4 * TINY["depth"]
    ops = [n.op_type for n in onnx.load(str(out / "search_step.int8.onnx")).graph.node]
    assert ops.count("QuantizeLinear") >= 2 * TINY["depth"]
    graphs = OnnxTrackingGraphs(out, "int8", 1)
    keys, values = graphs.encode(np.zeros((1, 2, 3, 32, 32), np.float32))
    assert np.isfinite(graphs.search(np.zeros((1, 3, 64, 64), np.float32), keys, values)["pred_boxes"]).all()
    capsys.readouterr()
    assert main(["export", "--model", str(config), "--out", str(tmp_path / "x"), "--calibration",
                 str(sequences[0])]) == 2
    assert "only used with --int8 static" in capsys.readouterr().err


def test_a_half_precision_model_is_exported_in_float32(tmp_path):
    half = tiny_model().half()
    manifest = export_onnx(half, tmp_path, check=False)
    assert manifest.model_config == half.config
    assert max(check_export(tiny_model().half().float(), tmp_path).values()) <= EXPORT_TOLERANCE
