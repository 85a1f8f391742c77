"""openvino-bf16: the exported graphs compiled by OpenVINO in bfloat16; an optional backend (pip install openvino)
whose boxes agree with float32 ONNX Runtime, and whose absence is a clear error naming the package."""
import sys

import numpy as np
import pytest
import torch

from mixformerv2 import build_model
from mixformerv2.export import ExportError
from mixformerv2.tracking.backends import available_backends, create_backend

TINY = dict(embed_dim=64, depth=2, num_heads=4, mlp_ratio=1, template_size=32, search_size=64, num_bins=16)


def inputs(config, batch=2):
    rng = np.random.default_rng(0)
    t = rng.standard_normal((batch, 3, config.template_size, config.template_size)).astype(np.float32)
    o = rng.standard_normal((batch, 1, 3, config.template_size, config.template_size)).astype(np.float32)
    s = rng.standard_normal((batch, 3, config.search_size, config.search_size)).astype(np.float32)
    return t, o, s


def test_openvino_backend_agrees_with_onnx_runtime():
    pytest.importorskip("openvino", reason="openvino is not installed (pip install openvino)")
    torch.manual_seed(0)
    model = build_model(TINY).eval()
    t, o, s = inputs(model.config)
    out = {}
    for name in ("onnx", "openvino-bf16"):
        backend = create_backend(name, model, threads=1)
        cache = backend.encode(t, o)
        out[name] = backend.search(cache, s)
        if name == "openvino-bf16":      # the cache serves a subset of the targets, re-encoding one of them
            sub = backend.select(cache, [1])
            one = backend.search(sub, s[1:])
            np.testing.assert_allclose(one[0], out[name][0][1:], atol=1e-5)
    assert np.abs(out["openvino-bf16"][0] - out["onnx"][0]).max() < 0.02
    assert np.abs(out["openvino-bf16"][1] - out["onnx"][1]).max() < 0.1


def test_without_openvino_the_error_names_the_package(monkeypatch):
    assert "openvino-bf16" in available_backends()
    monkeypatch.setitem(sys.modules, "openvino", None)      # import openvino now raises ImportError
    torch.manual_seed(0)
    with pytest.raises(ExportError, match="pip install openvino"):
        create_backend("openvino-bf16", build_model(TINY).eval(), threads=1)
