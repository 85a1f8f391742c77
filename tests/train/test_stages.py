"""Every stage of the recipe (B-style and S-style tiny configs) runs a training step, chained through the
checkpoints each stage writes, as `mixformerv2 train` would."""
from __future__ import annotations

import pytest
import torch

from mixformerv2.model import load_checkpoint
from mixformerv2.train import Trainer, load_config

from train_helpers import TINY, fast_overrides

CHAIN = ["teacher", "dense_to_sparse", "progressive_elimination", "finetune", "score",
         "s_progressive_elimination", "s_finetune", "s_score"]


def run_stage(name, extra=()):
    config = load_config(TINY / f"{name}.yaml", fast_overrides() + list(extra))
    trainer = Trainer(config, progress=False)
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    result = trainer.run()
    trainer.close()
    return config, trainer, before, result


def test_every_stage_trains_one_step_in_chain(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in CHAIN:
        config, trainer, before, result = run_stage(name, ["elimination.epochs=2"])
        assert result["global_step"] == 1, name
        out = tmp_path / config.output
        model = load_checkpoint(out / "model.pth")
        after = model.state_dict()
        changed = [k for k in after if not torch.equal(after[k], before[k])]
        trainable = {n for n, p in trainer.model.named_parameters() if p.requires_grad}
        assert changed, f"{name}: no weight changed"
        assert set(changed) <= trainable | {k for k in after if "running_" in k or "num_batches" in k}, name
        if config.stage == "score":
            assert all(k.startswith("score_head.") for k in changed), name
        else:
            assert not any(k.startswith("score_head.") for k in changed), name
        if config.stage == "progressive_elimination":
            for b in config.elimination.blocks:  # removed blocks are frozen
                assert not any(k.startswith(f"backbone.blocks.{b}.") for k in changed), name
            pruned = load_checkpoint(out / "model_pruned.pth")
            assert pruned.config.depth == model.config.depth - len(config.elimination.blocks)
        assert (out / "checkpoints" / "last.pth").is_file() and (out / "metrics.json").is_file()
    s_model = load_checkpoint(tmp_path / "runs/tiny/s_score/model.pth")
    assert s_model.config.depth == 1 and s_model.config.mlp_ratio == 1.0


def test_stage_refuses_existing_output_without_resume(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run_stage("teacher")
    with pytest.raises(ValueError, match="--resume"):
        Trainer(load_config(TINY / "teacher.yaml", fast_overrides()), progress=False)


def test_stage_with_missing_teacher_names_the_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match="runs/tiny/teacher/model.pth"):
        Trainer(load_config(TINY / "dense_to_sparse.yaml", fast_overrides()), progress=False)
