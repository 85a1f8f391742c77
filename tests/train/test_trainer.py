"""The trainer: learning happens, interrupted runs resume bit-for-bit, N processes equal one."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from mixformerv2.model import build_model
from mixformerv2.train import Trainer, load_config
from mixformerv2.train.trainer import model_config_from

from train_helpers import TINY, fast_overrides

SRC = str(Path(__file__).resolve().parents[2] / "src")
TOKEN_TEACHER = ["model.head=tokens", "model.depth=2"]  # a small, quick model for the trainer's own tests


def train(tmp: Path, name: str, overrides, resume=False, max_steps=None, config="teacher.yaml"):
    cfg = load_config(TINY / config, overrides)
    trainer = Trainer(cfg, output_dir=str(tmp / name), resume=resume, max_steps=max_steps, progress=False)
    result = trainer.run()
    trainer.close()
    return trainer, result


def test_loss_decreases_on_synthetic_data(tmp_path):
    over = fast_overrides(batch=8, steps_per_epoch=10, epochs=2, val=True) + TOKEN_TEACHER + [
        "optim.lr=2e-3", "optim.backbone_lr_mult=0.5"]
    cfg = load_config(TINY / "teacher.yaml", over)
    trainer = Trainer(cfg, output_dir=str(tmp_path / "run"), progress=False)
    initial = trainer.validate()
    result = trainer.run()
    trainer.close()
    final = result["history"][-1]["val"]
    assert final["loss"] < initial["loss"] - 0.3, (initial, final)
    assert final["iou"] > initial["iou"] + 0.01, (initial, final)
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert [m["epoch"] for m in metrics] == [1, 2] and "val" in metrics[-1]
    assert all(m["seconds"] > 0 and m["finished_at"][:2] == "20" for m in metrics)  # wall time per epoch
    assert any(p.name.startswith("events.out.tfevents") for p in (tmp_path / "run" / "tb").iterdir())


def _same_weights(a: Path, b: Path) -> None:
    sa = torch.load(a, weights_only=True)["net"]
    sb = torch.load(b, weights_only=True)["net"]
    assert sa.keys() == sb.keys()
    different = [k for k in sa if not torch.equal(sa[k], sb[k])]
    assert not different, f"weights differ: {different[:5]}"


def test_interrupted_run_resumes_bit_for_bit(tmp_path):
    over = fast_overrides(batch=2, steps_per_epoch=3, epochs=2) + TOKEN_TEACHER + [
        "checkpoint.every_steps=2", "model.drop_path_rate=0.1"]  # drop path: the torch RNG state matters
    train(tmp_path, "full", over)
    # Stopped at step 5 (mid-epoch 2): it checkpoints there, losing nothing.
    _, partial = train(tmp_path, "cut", over, max_steps=5)
    assert partial["stopped_early"] and not (tmp_path / "cut" / "model.pth").exists()
    state = torch.load(tmp_path / "cut" / "checkpoints" / "last.pth", weights_only=True)
    assert (state["epoch"], state["step_in_epoch"], state["global_step"]) == (1, 2, 5)
    stale = tmp_path / "cut" / "checkpoints" / f".last.pth.{2 ** 22 + 99}-k2j3.tmp"   # a SIGKILL mid-write
    stale.write_bytes(b"half a checkpoint")
    _, resumed = train(tmp_path, "cut", over, resume=True)
    assert not stale.exists()
    assert resumed["global_step"] == 6
    _same_weights(tmp_path / "full" / "model.pth", tmp_path / "cut" / "model.pth")
    full_opt = torch.load(tmp_path / "full" / "checkpoints" / "last.pth", weights_only=True)["optimizer"]
    cut_opt = torch.load(tmp_path / "cut" / "checkpoints" / "last.pth", weights_only=True)["optimizer"]
    for key, value in full_opt["state"].items():
        assert torch.equal(value["exp_avg_sq"], cut_opt["state"][key]["exp_avg_sq"])
    # The resumed epoch reports its statistics over all its steps, as the uninterrupted run does.
    full_metrics = json.loads((tmp_path / "full" / "metrics.json").read_text())
    cut_metrics = json.loads((tmp_path / "cut" / "metrics.json").read_text())
    assert cut_metrics[-1]["train"] == pytest.approx(full_metrics[-1]["train"], rel=1e-6)


def test_resume_of_another_stage_is_refused(tmp_path):
    over = fast_overrides() + TOKEN_TEACHER
    train(tmp_path, "run", over, max_steps=1)
    (tmp_path / "run" / "checkpoints").mkdir(exist_ok=True)
    with pytest.raises(ValueError, match="no checkpoint"):
        train(tmp_path, "other", over, resume=True)


def _cli(args, cwd, env_extra=None, **kw):
    env = dict(os.environ, PYTHONPATH=SRC, OMP_NUM_THREADS="1")
    env.update(env_extra or {})
    return subprocess.Popen([sys.executable, "-m", "mixformerv2", *args], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw)


@pytest.mark.slow
def test_killed_process_resumes_to_the_same_weights(tmp_path):
    """A real crash: SIGKILL in the middle of a run, then `--resume` (data-loading workers on)."""
    over = fast_overrides(batch=4, steps_per_epoch=10, epochs=3) + TOKEN_TEACHER + [
        "checkpoint.every_steps=1", "data.num_workers=2"]
    cfg = str(TINY / "teacher.yaml")
    assert _cli(["train", cfg, "--output", "full", "--no-progress", *over], tmp_path).wait(600) == 0
    proc = _cli(["train", cfg, "--output", "cut", "--no-progress", *over], tmp_path)
    last = tmp_path / "cut" / "checkpoints" / "last.pth"
    deadline = time.time() + 600
    while time.time() < deadline:
        if last.exists():
            try:
                if torch.load(last, weights_only=True)["global_step"] >= 13:
                    break
            except Exception:  # being replaced right now
                pass
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait(60)
    assert not (tmp_path / "cut" / "model.pth").exists()
    assert _cli(["train", cfg, "--output", "cut", "--resume", "--no-progress", *over], tmp_path).wait(600) == 0
    _same_weights(tmp_path / "full" / "model.pth", tmp_path / "cut" / "model.pth")


def _torchrun(nproc, output, over, cwd):
    env = dict(os.environ, PYTHONPATH=SRC, OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
           "-m", "mixformerv2", "train", str(TINY / "teacher.yaml"), "--output", output, "--no-progress", *over]
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]


@pytest.mark.slow
def test_two_gloo_processes_equal_one_process(tmp_path):
    """`torchrun --nproc_per_node 2` with global batch 4 (2 per process) ends with the same weights as one
    process with batch 4: same samples, gradients averaged by DDP."""
    over = fast_overrides(batch=4, steps_per_epoch=3, epochs=2, val=True) + TOKEN_TEACHER
    _torchrun(1, "one", over, tmp_path)
    _torchrun(2, "two", over, tmp_path)
    one = torch.load(tmp_path / "one" / "model.pth", weights_only=True)["net"]
    two = torch.load(tmp_path / "two" / "model.pth", weights_only=True)["net"]
    start = torch.load(tmp_path / "one" / "checkpoints" / "last.pth", weights_only=True)
    cfg = load_config(TINY / "teacher.yaml", over)
    torch.manual_seed(cfg.seed)
    initial = build_model(model_config_from(cfg.model)).state_dict()
    # Equal up to the order of floating-point sums (DDP averages two half-batch gradients): the runs differ
    # by a small fraction of how far training moved the weights.
    for k in one:
        moved = (one[k] - initial[k]).norm()
        assert (two[k] - one[k]).norm() <= 0.05 * moved + 1e-6, k
    m1 = json.loads((tmp_path / "one" / "metrics.json").read_text())
    m2 = json.loads((tmp_path / "two" / "metrics.json").read_text())
    assert m2[-1]["val"]["loss"] == pytest.approx(m1[-1]["val"]["loss"], rel=1e-3)
    assert start["world_size"] == 1
    ck2 = torch.load(tmp_path / "two" / "checkpoints" / "last.pth", weights_only=True)
    assert ck2["world_size"] == 2 and len(ck2["rng"]) == 2


def test_resume_follows_a_changed_learning_rate_schedule(tmp_path):
    """A long run cut short: resumed with fewer epochs and an earlier lr drop, it follows the new schedule."""
    over = fast_overrides(batch=2, steps_per_epoch=1, epochs=4) + TOKEN_TEACHER + ["optim.lr_drop_epochs=[4]",
                                                                            "checkpoint.every_steps=0"]
    train(tmp_path, "run", over, max_steps=1)
    shorter = fast_overrides(batch=2, steps_per_epoch=1, epochs=3) + TOKEN_TEACHER + ["optim.lr_drop_epochs=[2]"]
    trainer, result = train(tmp_path, "run", shorter, resume=True)
    assert result["global_step"] == 3 and not result["stopped_early"]
    lr = trainer.optimizer.param_groups[0]["lr"]
    base = trainer.config.optim.lr
    assert lr < base * 0.5, (lr, base)  # dropped after epoch 2, as the new config says (the old: 4)


def test_model_selection_by_tracking_keeps_the_best_checkpoint(tmp_path):
    """val.tracking: the model tracks a sequences folder after each epoch; metrics.json records the success
    AUC, model_best.pth holds the weights of the best epoch, and a bad setting is refused before training."""
    from datasets.layouts import boxes_text, moving_boxes, write_frames
    from mixformerv2.model import load_checkpoint
    from mixformerv2.train.trainer import BEST_MODEL, TrainingError

    root = tmp_path / "val"
    for name in ("walk", "run"):
        write_frames(root / name / "img", 6, name=lambda i: f"{i + 1:04d}.jpg", size=(96, 72))
        (root / name / "groundtruth_rect.txt").write_text(boxes_text(moving_boxes(6)))
    over = fast_overrides(batch=2, steps_per_epoch=1, epochs=3) + TOKEN_TEACHER + [
        "val.tracking.dataset=sequences", f"val.tracking.root={root}", "val.tracking.every=2",
        "val.tracking.params={search_factor: 4.0}"]
    trainer, result = train(tmp_path, "run", over)
    tracked = [h for h in result["history"] if "val_tracking" in h]
    assert [h["epoch"] for h in tracked] == [2, 3]          # every 2 epochs, and after the last
    for h in tracked:
        v = h["val_tracking"]
        assert 0 <= v["auc"] <= 1 and v["sequences"] == 2 and set(v["per_sequence"]) == {"walk", "run"}
    best = max(tracked, key=lambda h: h["val_tracking"]["auc"])
    assert best["val_tracking"].get("best") and (tmp_path / "run" / BEST_MODEL).is_file()
    assert load_checkpoint(tmp_path / "run" / BEST_MODEL).config == trainer.model.config
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert "val_tracking" in metrics[-1]
    with pytest.raises(TrainingError, match="val.tracking.params"):
        train(tmp_path, "bad", over[:-1] + ["val.tracking.params={search_factor: -1}"])
