"""The convolutional patch embedding (patch_embed: mobilenetv3): NanoTrack V3's trained backbone reproduced in
PyTorch (BatchNorm folded), fed the model's normalized RGB crops; a config switch of the one model that saves,
loads, caches templates and trains like the linear one."""
import numpy as np
import pytest
import torch

from conftest import shared_path
from mixformerv2 import build_model, load_checkpoint, save_checkpoint
from mixformerv2.geometry import IMAGENET_MEAN, IMAGENET_STD, normalize_images
from mixformerv2.model import ModelConfig
from mixformerv2.model.checkpoint import infer_config
from mixformerv2.model import stems
from mixformerv2.model.stems import MobileNetV3Stem, NanoTrackWeightsError, load_nanotrack_stem

SMALL = dict(embed_dim=64, depth=2, num_heads=4, mlp_ratio=1.0, template_size=48, search_size=96, num_bins=16,
             patch_embed="mobilenetv3")


def test_input_normalization_is_the_models():
    assert stems.IMAGENET_MEAN == IMAGENET_MEAN and stems.IMAGENET_STD == IMAGENET_STD


@pytest.mark.parametrize("size", [255, 127, 224])
def test_stem_computes_nanotracks_backbone(size):
    """Same features as NanoTrack V3's own ONNX backbone (0-255 BGR input) from our normalized RGB crop."""
    import onnxruntime as ort

    from mixformerv2.train.nanotrack_teacher import _flexible_backbone

    folder = shared_path("models", "nanotrack", "v3")
    stem = MobileNetV3Stem().eval()
    assert load_nanotrack_stem(stem, folder).name == "nanotrackv3.safetensors"
    session = ort.InferenceSession(_flexible_backbone(folder / "backbone.onnx"), providers=["CPUExecutionProvider"])
    rgb = torch.from_numpy(np.random.default_rng(size).integers(0, 256, (2, 3, size, size), dtype=np.uint8))
    expected = session.run(None, {session.get_inputs()[0].name: rgb.flip(1).float().numpy()})[0]
    with torch.no_grad():
        got = stem(normalize_images(rgb)).numpy()
    grid = -(-size // 16)
    assert got.shape == expected.shape == (2, 96, grid, grid)
    assert np.abs(got - expected).max() < 1e-3 * max(1.0, np.abs(expected).max())


def test_wrong_nanotrack_files_are_named(tmp_path):
    stem = MobileNetV3Stem()
    with pytest.raises(NanoTrackWeightsError, match="not found.*nanotrackv3.safetensors"):
        load_nanotrack_stem(stem, tmp_path)
    bad = tmp_path / "nanotrackv3.safetensors"
    bad.write_bytes(b"not a safetensors file")
    with pytest.raises(NanoTrackWeightsError, match="cannot read NanoTrack weights"):
        load_nanotrack_stem(stem, tmp_path)
    v2 = shared_path("models", "nanotrack", "v2", "nanotrackv2.safetensors")
    with pytest.raises(NanoTrackWeightsError, match="nanotrackv2.safetensors: not NanoTrack V3 backbone weights"):
        load_nanotrack_stem(stem, v2)


def test_config_checks_the_stem():
    with pytest.raises(ValueError, match="patch_embed must be one of"):
        ModelConfig(**{**SMALL, "patch_embed": "resnet"})
    with pytest.raises(ValueError, match="patch_size must be 16"):
        ModelConfig(**{**SMALL, "patch_size": 8})


def test_conv_stem_model_round_trips_and_caches(tmp_path):
    torch.manual_seed(0)
    model = build_model(SMALL).eval()
    template, search = torch.randn(1, 3, 48, 48), torch.randn(1, 3, 96, 96)
    with torch.no_grad():
        full = model(template, template, search)["pred_boxes"]
        cached = model.forward_search(search, model.encode_templates(template, template))["pred_boxes"]
    assert torch.allclose(full, cached, atol=1e-6)
    save_checkpoint(model, tmp_path / "m.safetensors")
    loaded = load_checkpoint(tmp_path / "m.safetensors")
    assert loaded.config == model.config
    with torch.no_grad():
        assert torch.allclose(loaded(template, template, search)["pred_boxes"], full, atol=1e-6)
    # Without a stored config the stem is recognised from the weights.
    assert infer_config(model.state_dict()).patch_embed == "mobilenetv3"


def test_info_names_the_convolutional_patch_embedding(tmp_path, capsys):
    from mixformerv2.cli import main

    save_checkpoint(build_model(SMALL), tmp_path / "m.safetensors")
    assert main(["info", "--weights", str(tmp_path / "m.safetensors")]) == 0
    out = capsys.readouterr().out
    assert "patch embedding: MobileNetV3 stem of stride 16" in out and "not in the published model" in out
