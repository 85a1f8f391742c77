"""Bad inputs and bad checkpoints give errors that name the problem."""
import logging

import pytest
import torch

from mixformerv2 import CheckpointError, build_model, load_checkpoint, save_checkpoint
from mixformerv2.model.config import ModelConfig

TINY = dict(embed_dim=64, depth=2, num_heads=4, mlp_ratio=4, template_size=32, search_size=64, num_bins=16)


@pytest.fixture(scope="module")
def model():
    return build_model(TINY).eval()


def test_wrong_image_size(model):
    with pytest.raises(ValueError, match=r"search must have shape \(B, 3, 64, 64\).*\(1, 3, 48, 48\)"):
        model(torch.zeros(1, 3, 32, 32), torch.zeros(1, 3, 32, 32), torch.zeros(1, 3, 48, 48))
    with pytest.raises(ValueError, match=r"template must have shape \(B, 3, 32, 32\)"):
        model.encode_templates(torch.zeros(1, 3, 64, 64))


def test_wrong_channel_count(model):
    with pytest.raises(ValueError, match=r"online_template must have shape .*\(1, 4, 32, 32\)"):
        model(torch.zeros(1, 3, 32, 32), torch.zeros(1, 4, 32, 32), torch.zeros(1, 3, 64, 64))


def test_integer_images_and_batch_mismatch(model):
    with pytest.raises(ValueError, match="floating-point"):
        model.encode_templates(torch.zeros(1, 3, 32, 32, dtype=torch.uint8))
    with pytest.raises(ValueError, match="batch size"):
        model(torch.zeros(2, 3, 32, 32), torch.zeros(1, 3, 32, 32), torch.zeros(2, 3, 64, 64))
    cache = model.encode_templates(torch.zeros(2, 3, 32, 32))
    with pytest.raises(ValueError, match="template cache has 2"):
        model.forward_search(torch.zeros(3, 3, 64, 64), cache)


def test_bad_configs():
    with pytest.raises(ValueError, match="not divisible by num_heads"):
        build_model(dict(TINY, num_heads=5))
    with pytest.raises(ValueError, match="not a multiple of patch_size"):
        build_model(dict(TINY, search_size=70))
    with pytest.raises(ValueError, match="unknown model config keys"):
        build_model(dict(TINY, widht=3))
    with pytest.raises(ValueError, match="unknown model preset"):
        build_model("mixformerv2-xl")


def test_round_trips_in_every_format(model, tmp_path):
    ref = {k: v.clone() for k, v in model.state_dict().items()}
    for name in ("ours.safetensors", "ours.pth"):
        save_checkpoint(model, tmp_path / name)
        loaded = load_checkpoint(tmp_path / name)  # config comes from the file
        assert loaded.config == model.config
        assert all(torch.equal(loaded.state_dict()[k], v) for k, v in ref.items())
    torch.save({"net": ref}, tmp_path / "official.pth.tar")
    torch.save(ref, tmp_path / "plain.pth")
    for name in ("official.pth.tar", "plain.pth"):
        loaded = load_checkpoint(tmp_path / name, TINY)
        assert all(torch.equal(loaded.state_dict()[k], v) for k, v in ref.items())


def test_preset_is_inferred_from_an_official_checkpoint(tmp_path):
    torch.save({"net": build_model("s").state_dict()}, tmp_path / "s.pth.tar")
    assert load_checkpoint(tmp_path / "s.pth.tar").config == ModelConfig.from_dict(build_model("s").config.to_dict())


def test_truncated_checkpoint(model, tmp_path):
    save_checkpoint(model, tmp_path / "full.pth")
    data = (tmp_path / "full.pth").read_bytes()
    (tmp_path / "cut.pth").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated, corrupt"):
        load_checkpoint(tmp_path / "cut.pth", TINY)
    save_checkpoint(model, tmp_path / "full.safetensors")
    data = (tmp_path / "full.safetensors").read_bytes()
    (tmp_path / "cut.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="cannot read safetensors"):
        load_checkpoint(tmp_path / "cut.safetensors", TINY)
    (tmp_path / "text.pth").write_text("not a checkpoint")
    with pytest.raises(CheckpointError):
        load_checkpoint(tmp_path / "text.pth", TINY)
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "missing.pth", TINY)


def test_foreign_checkpoint_names_keys_and_shapes(tmp_path):
    torch.save({"conv1.weight": torch.zeros(8, 3, 3, 3), "fc.weight": torch.zeros(10, 8)}, tmp_path / "resnet.pth")
    with pytest.raises(CheckpointError, match="no 'backbone.patch_embed.proj.weight'"):
        load_checkpoint(tmp_path / "resnet.pth")
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(tmp_path / "resnet.pth", TINY)
    msg = str(err.value)
    assert "missing keys (42)" in msg and "backbone.blocks.0.attn.qkv.weight" in msg
    assert "unexpected keys (2): conv1.weight, fc.weight" in msg
    torch.save({"net": build_model(dict(TINY, num_bins=24)).state_dict()}, tmp_path / "other_bins.pth")
    with pytest.raises(CheckpointError, match=r"box_head.layers.1.0.weight: checkpoint \(24, 64\) vs model \(16, 64\)"):
        load_checkpoint(tmp_path / "other_bins.pth", TINY)


def test_pickled_code_is_refused(tmp_path):
    torch.save({"net": {"x": torch.zeros(1)}, "extra": logging.getLogger("x")}, tmp_path / "evil.pth")
    with pytest.raises(CheckpointError, match="refusing"):
        load_checkpoint(tmp_path / "evil.pth", TINY)


def test_teacher_checkpoint_extras_are_ignored_with_a_note(tmp_path, caplog):
    teacher = dict(TINY, head="corner")
    state = build_model(teacher).state_dict()
    state.update({"backbone.cls_token": torch.zeros(1, 1, 64), "backbone.pos_embed": torch.zeros(1, 5, 64),
                  "backbone.norm.weight": torch.ones(64), "backbone.norm.bias": torch.zeros(64),
                  "backbone.head.weight": torch.zeros(10, 64), "backbone.head.bias": torch.zeros(10)})
    torch.save({"net": state}, tmp_path / "mixvit.pth.tar")
    with caplog.at_level(logging.INFO):
        model = load_checkpoint(tmp_path / "mixvit.pth.tar", teacher)
    assert "ignoring 6 checkpoint entries" in caplog.text and "backbone.cls_token" in caplog.text
    assert model.config.head == "corner"


def test_half_precision_checkpoint_round_trip(tmp_path):
    """half=True stores float16 where it fits (half the bytes) but keeps float32 where float16 would
    overflow (a BatchNorm running variance above 65504); loading gives a float32 model computing the same."""
    torch.manual_seed(0)
    teacher = build_model(dict(TINY, head="corner")).eval()
    bn = next(m for m in teacher.modules() if isinstance(m, torch.nn.BatchNorm2d))
    bn.running_var.fill_(2.0e5)
    full, half = tmp_path / "full.safetensors", tmp_path / "half.safetensors"
    save_checkpoint(teacher, full)
    save_checkpoint(teacher, half, half=True)
    assert half.stat().st_size < 0.6 * full.stat().st_size
    loaded = load_checkpoint(half)
    assert all(p.dtype == torch.float32 for p in loaded.parameters())
    loaded_bn = next(m for m in loaded.modules() if isinstance(m, torch.nn.BatchNorm2d))
    assert torch.equal(loaded_bn.running_var, bn.running_var)
    x = [torch.rand(1, 3, 32, 32), torch.rand(1, 3, 32, 32), torch.rand(1, 3, 64, 64)]
    with torch.no_grad():
        a, b = teacher(*x)["pred_boxes"], loaded.eval()(*x)["pred_boxes"]
    assert torch.allclose(a, b, atol=2e-3), (a, b)


def test_hostile_config_in_safetensors_metadata_fails_before_allocating(tmp_path, capsys):
    """A config of 65536-wide, 64-deep blocks beside one small tensor: refused from the shapes, without building
    the 51 GB model (this test would be killed for memory or take minutes if it were built)."""
    import json
    import resource
    import time

    from safetensors.torch import save_file

    from mixformerv2.cli import main

    hostile = dict(TINY, embed_dim=65536, depth=64, num_heads=64)
    path = tmp_path / "hostile.safetensors"
    save_file({"backbone.patch_embed.proj.weight": torch.zeros(4, 3, 16, 16)}, str(path),
              metadata={"mixformerv2_config": json.dumps(hostile)})
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    with pytest.raises(CheckpointError, match="does not fit the model"):
        load_checkpoint(path)
    assert time.perf_counter() - start < 10
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before < 500_000      # KiB: < 0.5 GB
    assert main(["info", "--weights", str(path)]) == 2
    err = capsys.readouterr().err
    assert "does not fit the model" in err and "Traceback" not in err
