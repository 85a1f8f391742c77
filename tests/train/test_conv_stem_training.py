"""Training a model with the convolutional patch embedding: NanoTrack V3's backbone loads into the stem, a frozen
stem stays as loaded while the rest learns, and the switch is refused for a linear patch embedding."""
import pytest
import torch

from conftest import shared_path
from mixformerv2.model.stems import MobileNetV3Stem, load_nanotrack_stem
from mixformerv2.train import Trainer, load_config
from mixformerv2.train.trainer import TrainingError

from train_helpers import TINY, fast_overrides


def test_frozen_stem_trains_the_rest(tmp_path):
    folder = shared_path("models", "nanotrack", "v3")
    over = fast_overrides(batch=2, steps_per_epoch=2) + [
        "model.head=tokens", "model.depth=2", "model.patch_embed=mobilenetv3", "model.template_size=48",
        "model.search_size=96", f"init.nanotrack_stem={folder}", "optim.stem_lr_mult=0"]
    trainer = Trainer(load_config(TINY / "teacher.yaml", over), output_dir=str(tmp_path / "run"), progress=False)
    stem = trainer.model.backbone.patch_embed.stem
    reference = MobileNetV3Stem()
    load_nanotrack_stem(reference, folder)
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    trainer.run()
    trainer.close()
    after = trainer.model.state_dict()
    assert all(torch.equal(stem.state_dict()[k], reference.state_dict()[k]) for k in reference.state_dict())
    assert not any(p.requires_grad for p in stem.parameters())
    changed = [k for k in before if not torch.equal(before[k], after[k])]
    assert changed and not any(k.startswith("backbone.patch_embed.stem.") for k in changed)
    assert "backbone.patch_embed.proj.weight" in changed


def test_nanotrack_stem_needs_the_conv_patch_embedding(tmp_path):
    over = fast_overrides() + ["model.head=tokens", "model.depth=2", "init.nanotrack_stem=/nowhere"]
    with pytest.raises(TrainingError, match="needs a model with patch_embed: mobilenetv3"):
        Trainer(load_config(TINY / "teacher.yaml", over), output_dir=str(tmp_path / "run"), progress=False)
    over = fast_overrides() + ["model.head=tokens", "model.depth=2", "model.patch_embed=mobilenetv3",
                               "model.template_size=48", "model.search_size=96", f"init.nanotrack_stem={tmp_path}"]
    with pytest.raises(TrainingError, match="init.nanotrack_stem: NanoTrack V3 weights not found"):
        Trainer(load_config(TINY / "teacher.yaml", over), output_dir=str(tmp_path / "run"), progress=False)
