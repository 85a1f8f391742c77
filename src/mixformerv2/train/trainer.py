"""The Trainer: one loop for every stage (the stage's Actor computes the loss).

AdamW with the backbone learning-rate multiplier, a step schedule, gradient clipping, mixed precision
where the device supports it, TensorBoard logs, a progress bar with loss and IoU, periodic validation,
checkpoints written atomically every epoch (and optionally every N steps), and ``resume`` continuing
bit-for-bit: model, optimizer, scheduler, gradient scaler, RNG states of every process, epoch and step.
Under torchrun it runs DistributedDataParallel with each process taking every world_size-th sample of
each global batch, so N processes see the same global batches as one.
"""
from __future__ import annotations

import functools
import json
import logging
import os
import random
import sys
import time
from collections import Counter
from contextlib import nullcontext
from pathlib import Path
from typing import Any, Dict, List, Optional

import numpy as np
import torch
import torch.distributed as dist
import yaml
from torch import nn

from ..data.datasets import build_dataset
from ..data.processing import PairProcessing
from ..data.sampler import EpochIndexSampler, SamplerConfig, TrackingSampler
from ..model import ModelConfig, build_model, save_checkpoint
from ..files import atomic_write
from ..processes import exit_with
from ..model.config import resolve_config
from .actors import Actor, build_actor
from .config import TrainConfig
from ..model.stems import NanoTrackWeightsError, load_nanotrack_stem
from ..model.surgery import build_teacher, load_mae_backbone, load_weights
from .distributed import DistInfo, average_stats, cleanup_distributed, setup_distributed

log = logging.getLogger(__name__)

CHECKPOINT_DIR = "checkpoints"
LAST_CHECKPOINT = "last.pth"
STEM_PREFIX = "backbone.patch_embed.stem."  # a convolutional patch embedding's MobileNetV3 stem
BEST_MODEL = "model_best.pth"  # the weights with the best validation-by-tracking AUC


class TrainingError(ValueError):
    """Training cannot start or continue as asked."""


def model_config_from(value: Any) -> ModelConfig:
    """A preset name, a mapping of ModelConfig keys, or a mapping with ``preset`` plus keys that override it."""
    if isinstance(value, dict) and "preset" in value:
        rest = dict(value)
        base = resolve_config(rest.pop("preset"))
        if rest.get("active_blocks") is not None:
            rest["active_blocks"] = tuple(rest["active_blocks"])
        return base.replace(**rest) if rest else base
    return resolve_config(value)


def _rng_state() -> Dict[str, Any]:
    np_state = np.random.get_state()
    state = {"torch": torch.get_rng_state(), "numpy_keys": torch.from_numpy(np_state[1].astype(np.int64)),
             "numpy_pos": int(np_state[2]), "numpy_gauss": [int(np_state[3]), float(np_state[4])],
             "python": [list(random.getstate()[1]), random.getstate()[0]]}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: Dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(("MT19937", state["numpy_keys"].numpy().astype(np.uint32), state["numpy_pos"],
                         int(state["numpy_gauss"][0]), float(state["numpy_gauss"][1])))
    random.setstate((state["python"][1], tuple(state["python"][0]), None))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _worker_init(_: int, main_pid: int) -> None:
    import cv2

    exit_with(main_pid)   # a SIGKILLed training run leaves no data-loader workers behind
    cv2.setNumThreads(1)
    torch.set_num_threads(1)


class Trainer:
    """Build everything a stage needs from its TrainConfig and run it.

    output_dir: where checkpoints (``checkpoints/last.pth``, ``checkpoints/epoch_XXXX.pth``), the final
    weights (``model.pth``), ``config.yaml``, ``metrics.json`` (per-epoch train/val statistics) and
    TensorBoard logs (``tb/``) go. resume: continue from ``checkpoints/last.pth``. max_steps: stop after
    this many optimizer steps in total (a time-boxed run; resume continues it).
    """

    def __init__(self, config: TrainConfig, output_dir: Optional[str] = None, resume: bool = False,
                 max_steps: Optional[int] = None, device: str = "auto", timing_file: Optional[str] = None,
                 save_checkpoints: bool = True, progress: bool = True):
        self.config = config
        out = output_dir or config.output or f"runs/{Path(config.source or 'train').stem}"
        self.output = Path(out)
        self.resume = resume
        self.max_steps = max_steps
        self.timing_file = timing_file
        self.save_checkpoints = save_checkpoints
        self._epoch_sums: Dict[str, float] = {}   # the current epoch's running statistics (saved mid-epoch)
        self._epoch_count = 0
        self.progress = progress
        self.info: DistInfo = setup_distributed(device, config.data.num_workers)
        world = self.info.world_size
        if config.optim.batch_size % world:
            raise TrainingError(f"optim.batch_size {config.optim.batch_size} is not divisible by the "
                                f"{world} processes")
        self.global_batch = config.optim.batch_size
        self.batch_per_process = self.global_batch // world
        self.steps_per_epoch = config.data.samples_per_epoch // self.global_batch
        last = self.output / CHECKPOINT_DIR / LAST_CHECKPOINT
        if not resume and last.exists():
            raise TrainingError(f"{self.output} already holds a checkpoint ({last}); pass --resume to continue "
                                f"it or choose another --output")
        if resume and not last.exists():
            raise TrainingError(f"--resume: no checkpoint at {last}")
        self._build()

    # Construction ---------------------------------------------------------------------------------
    def _build(self) -> None:
        c = self.config
        torch.manual_seed(c.seed)
        np.random.seed(c.seed % 2**32)
        random.seed(c.seed)
        model_config = model_config_from(c.model)
        model = build_model(model_config)
        if c.init.mae:
            load_mae_backbone(model, c.init.mae)
        if c.init.nanotrack_stem:
            if model_config.patch_embed != "mobilenetv3":
                raise TrainingError("init.nanotrack_stem needs a model with patch_embed: mobilenetv3, this one has "
                                    f"patch_embed: {model_config.patch_embed}")
            try:
                load_nanotrack_stem(model.backbone.patch_embed.stem, c.init.nanotrack_stem)
            except NanoTrackWeightsError as exc:
                raise TrainingError(f"init.nanotrack_stem: {exc}") from None
        if c.init.weights:
            load_weights(model, c.init.weights, remove_blocks=c.init.remove_blocks, reduce_mlp=c.init.reduce_mlp,
                         partial=c.init.partial)
        teacher = None
        if c.stage in ("dense_to_sparse", "progressive_elimination", "finetune") and c.teacher.weights:
            teacher = build_teacher(c.teacher.weights, c.teacher.model, model_config.template_size,
                                    model_config.search_size).to(self.info.device)
            self._check_teacher(model_config, teacher.config)
        nanotrack = None
        if c.teacher.nanotrack:
            from .nanotrack_teacher import NanoTrackTeacher, NanoTrackTeacherError

            try:
                nanotrack = NanoTrackTeacher(c.teacher.nanotrack, threads=c.teacher.nanotrack_threads,
                                             sharpness=c.teacher.nanotrack_sharpness)
            except NanoTrackTeacherError as exc:
                raise TrainingError(f"teacher.nanotrack: {exc}") from None
            if c.loss.nanotrack_kl > 0 and model_config.head != "tokens":
                raise TrainingError("loss.nanotrack_kl teaches prediction tokens: the model needs head: tokens")
        self.actor: Actor = build_actor(c, teacher, nanotrack)
        self.actor.freeze(model)
        if c.optim.stem_lr_mult == 0:
            for name, p in model.named_parameters():
                if name.startswith(STEM_PREFIX):
                    p.requires_grad_(False)
        model.to(self.info.device)
        self.model = model
        trainable = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
        if not trainable:
            raise TrainingError(f"stage {c.stage}: no parameter is trainable")
        self.trainable = [p for _, p in trainable]
        if self.info.distributed:
            has_bn = any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())
            if has_bn and self.info.device.type == "cuda":
                model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
                self.model = model
            elif has_bn:
                log.warning("BatchNorm statistics are per process on CPU (SyncBatchNorm needs CUDA)")
            self.ddp = nn.parallel.DistributedDataParallel(
                model, device_ids=[self.info.local_rank] if self.info.device.type == "cuda" else None)
        else:
            self.ddp = model
        backbone = [p for n, p in trainable if n.startswith("backbone.") and not n.startswith(STEM_PREFIX)]
        stem = [p for n, p in trainable if n.startswith(STEM_PREFIX)]
        heads = [p for n, p in trainable if not n.startswith("backbone.")]
        backbone_lr = c.optim.lr * c.optim.backbone_lr_mult
        groups = [g for g in ({"params": heads, "lr": c.optim.lr}, {"params": backbone, "lr": backbone_lr},
                              {"params": stem, "lr": backbone_lr * c.optim.stem_lr_mult}) if g["params"]]
        self.optimizer = torch.optim.AdamW(groups, lr=c.optim.lr, weight_decay=c.optim.weight_decay)
        self.scheduler = torch.optim.lr_scheduler.MultiStepLR(self.optimizer, milestones=list(c.optim.lr_drop_epochs),
                                                              gamma=c.optim.lr_gamma)
        amp = c.optim.amp
        cuda = self.info.device.type == "cuda"
        if amp == "auto":
            amp = "fp16" if cuda else "off"
        if amp == "fp16" and not cuda:
            raise TrainingError("optim.amp fp16 needs CUDA; use bf16 or off on the CPU")
        self.amp_dtype = {"fp16": torch.float16, "bf16": torch.bfloat16}.get(amp)
        self.scaler = torch.amp.GradScaler("cuda", enabled=amp == "fp16")
        self._build_data()

    def _check_teacher(self, student: ModelConfig, teacher: ModelConfig) -> None:
        c = self.config
        if c.stage == "dense_to_sparse":
            if teacher.head != "corner":
                raise TrainingError("dense_to_sparse needs a corner-head teacher (the MixViT of the teacher stage)")
            if student.num_bins != teacher.corner_map_size:
                raise TrainingError(f"dense_to_sparse: the student's num_bins ({student.num_bins}) must equal the "
                                    f"teacher's corner map side ({teacher.corner_map_size})")
        else:
            if teacher.head != "tokens":
                raise TrainingError(f"{c.stage} needs a token-head teacher (the dense-to-sparse student)")
            if c.loss.kl > 0 and student.num_bins != teacher.num_bins:
                raise TrainingError(f"{c.stage}: student num_bins {student.num_bins} != teacher {teacher.num_bins}")
            if c.loss.feature > 0:
                if student.embed_dim != teacher.embed_dim:
                    raise TrainingError("feature distillation needs equal embed_dim in student and teacher")
                s_depth, t_depth = len(student.running_blocks), len(teacher.running_blocks)
                bad = [p for p in c.feature_pairs if not (0 <= p[0] < s_depth and 0 <= p[1] < t_depth)]
                if bad:
                    raise TrainingError(f"feature_pairs {bad} outside the student's {s_depth} and the teacher's "
                                        f"{t_depth} blocks")

    def _sampler(self, dataset_specs, num_samples: int, seed: int, mode: str) -> TrackingSampler:
        c = self.config
        mc = self.model.config
        datasets = [build_dataset(spec) for spec in dataset_specs]
        ratios = [float(spec.get("ratio", 1.0)) for spec in dataset_specs]
        d = c.data
        processing = PairProcessing(d, mc.template_size, mc.search_size)
        sampler_config = SamplerConfig(samples_per_epoch=num_samples, max_gap=d.max_gap,
                                       num_templates=d.num_templates, mode=mode)
        return TrackingSampler(datasets, ratios, processing, sampler_config, seed=seed)

    def _loader(self, dataset: TrackingSampler, index_sampler: EpochIndexSampler) -> torch.utils.data.DataLoader:
        workers = self.config.data.num_workers
        return torch.utils.data.DataLoader(
            dataset, batch_size=self.batch_per_process, sampler=index_sampler, num_workers=workers,
            persistent_workers=workers > 0, pin_memory=self.info.device.type == "cuda",
            worker_init_fn=functools.partial(_worker_init, main_pid=os.getpid()) if workers > 0 else None,
            # Workers start from a clean process: forking a parent whose OpenCV/OpenMP thread pools are
            # running can deadlock the children.
            multiprocessing_context="forkserver" if workers > 0 and sys.platform.startswith("linux") else None,
            generator=torch.Generator().manual_seed(self.config.seed), drop_last=True)

    def _build_data(self) -> None:
        c = self.config
        mode = "score" if c.stage == "score" else "box"
        n = self.steps_per_epoch * self.global_batch
        self.train_data = self._sampler(c.data.datasets, n, c.seed, mode)
        self.train_index = EpochIndexSampler(n, self.info.rank, self.info.world_size)
        self.train_loader = self._loader(self.train_data, self.train_index)
        self.val_loader = None
        if c.val.every > 0 and c.val.samples > 0:
            n_val = max(1, c.val.samples // self.global_batch) * self.global_batch
            val_data = self._sampler(c.val.datasets or c.data.datasets, n_val, c.val.seed, mode)
            self.val_index = EpochIndexSampler(n_val, self.info.rank, self.info.world_size)
            self.val_loader = self._loader(val_data, self.val_index)
        self._build_tracking_validation()

    def _build_tracking_validation(self) -> None:
        """Open the dataset that model selection tracks (main process only; checked before training starts)."""
        tv = self.config.val.tracking
        self.tracking_val_data = None
        if tv.dataset is None or not self.info.is_main:
            return
        from ..datasets import open_dataset
        from ..tracking import TrackerParams

        self.tracking_val_data = open_dataset(tv.dataset, tv.root, tv.split)
        try:
            TrackerParams(**dict(tv.params))
        except (TypeError, ValueError) as exc:
            raise TrainingError(f"val.tracking.params: {exc}") from None

    def validate_by_tracking(self) -> Dict[str, Any]:
        """Track the validation dataset with the current weights (main process) and score it."""
        from ..evaluation.validation import track_and_score

        tv = self.config.val.tracking
        return track_and_score(self.model, self.tracking_val_data, tv.params, tv.sequences).as_dict()

    # Checkpoints ----------------------------------------------------------------------------------
    def _gather_rng(self) -> List[Dict[str, Any]]:
        state = _rng_state()
        if not self.info.distributed:
            return [state]
        states: List[Any] = [None] * self.info.world_size
        dist.all_gather_object(states, state)
        return states

    def _save(self, epoch: int, step_in_epoch: int, global_step: int, history: List[Dict[str, Any]]) -> None:
        rng = self._gather_rng()  # collective: every process takes part
        if not (self.save_checkpoints and self.info.is_main):
            return
        state = {
            "model": {k: v.detach().cpu() for k, v in self.model.state_dict().items()},
            "config": self.model.config.to_dict(), "train_config": self.config.to_dict(), "stage": self.config.stage,
            "optimizer": self.optimizer.state_dict(), "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict(), "epoch": epoch, "step_in_epoch": step_in_epoch,
            "global_step": global_step, "rng": rng, "history": history, "world_size": self.info.world_size,
            # The running sums of this epoch's training statistics so far (main process), so that a resumed
            # epoch reports its statistics over all its steps, not only those after the resume.
            "epoch_sums": dict(self._epoch_sums) if step_in_epoch else {},
            "epoch_count": self._epoch_count if step_in_epoch else 0,
        }
        folder = self.output / CHECKPOINT_DIR
        atomic_write(folder / LAST_CHECKPOINT, lambda tmp: torch.save(state, tmp))
        if step_in_epoch == 0:
            atomic_write(folder / f"epoch_{epoch:04d}.pth", lambda tmp: torch.save(state, tmp))
            kept = sorted(folder.glob("epoch_*.pth"))
            for old in kept[: max(0, len(kept) - self.config.checkpoint.keep)]:
                old.unlink()

    def _load(self) -> Dict[str, Any]:
        path = self.output / CHECKPOINT_DIR / LAST_CHECKPOINT
        try:
            state = torch.load(str(path), map_location="cpu", weights_only=True)
        except Exception as exc:  # corrupt or foreign file
            raise TrainingError(f"cannot read checkpoint {path}: {exc}") from None
        if state.get("stage") != self.config.stage:
            raise TrainingError(f"{path} is a checkpoint of stage {state.get('stage')!r}, not {self.config.stage!r}")
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        # The schedule is the config's: a run resumed with new lr_drop_epochs (say, shortened) follows them.
        milestones = Counter(self.config.optim.lr_drop_epochs)
        if self.scheduler.milestones != milestones:
            if self.info.is_main:
                log.info("learning-rate drops now at epochs %s (the checkpoint had %s)", sorted(milestones.elements()),
                         sorted(self.scheduler.milestones.elements()))
            self.scheduler.milestones = milestones
        self.scaler.load_state_dict(state["scaler"])
        rng = state["rng"]
        if len(rng) != self.info.world_size:
            log.warning("checkpoint written by %d processes, resuming with %d: RNG streams are not restored exactly",
                        len(rng), self.info.world_size)
        _set_rng_state(rng[self.info.rank] if self.info.rank < len(rng) else rng[0])
        if self.info.is_main:
            log.info("resuming %s at epoch %d, step %d of the epoch (%d steps done)", path, state["epoch"] + 1,
                     state["step_in_epoch"], state["global_step"])
        return state

    # The loop -------------------------------------------------------------------------------------
    def _to_device(self, batch: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
        return {k: v.to(self.info.device, non_blocking=True) for k, v in batch.items()}

    def _autocast(self):
        if self.amp_dtype is None:
            return nullcontext()
        return torch.autocast(self.info.device.type, dtype=self.amp_dtype)

    def _train_step(self, batch: Dict[str, torch.Tensor]) -> Dict[str, float]:
        with self._autocast():
            loss, stats = self.actor.forward(self.ddp, batch)
        if not torch.isfinite(loss):
            raise TrainingError(f"loss is {float(loss)} at this step; lower optim.lr or check the data")
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        if self.config.optim.grad_clip > 0:
            self.scaler.unscale_(self.optimizer)
            stats["grad_norm"] = float(torch.nn.utils.clip_grad_norm_(self.trainable, self.config.optim.grad_clip))
        self.scaler.step(self.optimizer)
        self.scaler.update()
        return stats

    def validate(self) -> Dict[str, float]:
        """Mean statistics (loss, IoU or accuracy, ...) over the fixed validation samples, all processes."""
        if self.val_loader is None:
            return {}
        self.model.eval()
        sums: Dict[str, float] = {}
        count = 0
        self.val_index.set_epoch(0)
        with torch.no_grad(), self._autocast():
            for batch in self.val_loader:
                batch = self._to_device(batch)
                _, stats = self.actor.forward(self.model, batch)
                b = len(batch["search"])
                for k, v in stats.items():
                    sums[k] = sums.get(k, 0.0) + v * b
                count += b
        self.model.train()
        means = {k: v / max(count, 1) for k, v in sums.items()}
        return average_stats(means, float(count), self.info)

    def run(self) -> Dict[str, Any]:
        """Train to the last epoch (or ``max_steps``). Returns {"epochs_done", "global_step", "history",
        "stopped_early"}; the final weights are in ``output/model.pth``."""
        c = self.config
        epoch, step_in_epoch, global_step, history = 0, 0, 0, []
        resumed_sums: Dict[str, float] = {}
        resumed_count = 0
        if self.resume:
            state = self._load()
            epoch, step_in_epoch, global_step = state["epoch"], state["step_in_epoch"], state["global_step"]
            history = list(state.get("history", []))
            if step_in_epoch:
                resumed_sums = {k: float(v) for k, v in state.get("epoch_sums", {}).items()}
                resumed_count = int(state.get("epoch_count", 0))
        main = self.info.is_main
        writer = self._tensorboard() if main else None
        if main:
            self.output.mkdir(parents=True, exist_ok=True)
            atomic_write(self.output / "config.yaml",
                         lambda tmp: Path(tmp).write_text(yaml.safe_dump(c.to_dict(), sort_keys=False)))
            log.info("stage %s: %d epochs x %d steps, global batch %d on %d process(es), device %s, output %s",
                     c.stage, c.optim.epochs, self.steps_per_epoch, self.global_batch, self.info.world_size,
                     self.info.device, self.output)
        step_times: List[float] = []
        stopped = False
        try:
            while epoch < c.optim.epochs and not stopped:
                extra = self.actor.on_epoch_start(self.model, epoch)
                epoch_start = time.time()
                self.model.train()
                self.train_index.set_epoch(epoch, start=step_in_epoch * self.global_batch)
                sums: Dict[str, float] = resumed_sums
                count = resumed_count
                resumed_sums, resumed_count = {}, 0
                self._epoch_sums, self._epoch_count = sums, count
                bar = None
                if main and self.progress:
                    from tqdm import tqdm

                    bar = tqdm(total=self.steps_per_epoch, initial=step_in_epoch, desc=f"{c.stage} {epoch + 1}/{c.optim.epochs}",
                               unit="step", dynamic_ncols=True, leave=False)
                iterator = iter(self.train_loader)
                while step_in_epoch < self.steps_per_epoch:
                    batch = self._to_device(next(iterator))
                    stats = self._train_step(batch)
                    step_in_epoch += 1
                    global_step += 1
                    if main and self.timing_file:
                        step_times.append(time.perf_counter())
                    for k, v in stats.items():
                        sums[k] = sums.get(k, 0.0) + v
                    count += 1
                    self._epoch_count = count
                    if bar is not None:
                        shown = {k: f"{stats[k]:.4f}" for k in ("loss", "iou", "accuracy") if k in stats}
                        bar.set_postfix(shown)
                        bar.update(1)
                    if writer is not None and global_step % max(1, c.log_every) == 0:
                        for k, v in stats.items():
                            writer.add_scalar(f"train/{k}", v, global_step)
                        writer.add_scalar("train/lr", self.optimizer.param_groups[0]["lr"], global_step)
                    mid_epoch = step_in_epoch < self.steps_per_epoch
                    if self.max_steps is not None and global_step >= self.max_steps:
                        stopped = True  # nothing done is lost: mid-epoch, checkpoint here; else finish the epoch
                        if mid_epoch:
                            self._save(epoch, step_in_epoch, global_step, history)
                        break
                    every = c.checkpoint.every_steps
                    if every > 0 and global_step % every == 0 and mid_epoch:
                        self._save(epoch, step_in_epoch, global_step, history)
                del iterator
                if bar is not None:
                    bar.close()
                if stopped and step_in_epoch < self.steps_per_epoch:
                    break
                self.scheduler.step()
                train_stats = average_stats({k: v / max(count, 1) for k, v in sums.items()}, float(count), self.info)
                record: Dict[str, Any] = {"epoch": epoch + 1, "global_step": global_step, **extra,
                                          "train": train_stats}
                if self.val_loader is not None and ((epoch + 1) % c.val.every == 0 or epoch + 1 == c.optim.epochs):
                    record["val"] = self.validate()
                tv = c.val.tracking
                if self.tracking_val_data is not None and ((epoch + 1) % tv.every == 0 or epoch + 1 == c.optim.epochs):
                    record["val_tracking"] = self.validate_by_tracking()
                    best = best_tracking_auc(history)
                    if best is None or record["val_tracking"]["auc"] > best:
                        save_checkpoint(self.model, self.output / BEST_MODEL)
                        record["val_tracking"]["best"] = True
                        log.info("new best tracking AUC %.4f on %s: weights in %s", record["val_tracking"]["auc"],
                                 tv.dataset, self.output / BEST_MODEL)
                # Wall time of this epoch as run (a resumed epoch counts from the resume), and when it ended.
                record["seconds"] = round(time.time() - epoch_start, 1)
                record["finished_at"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
                history.append(record)
                epoch += 1
                step_in_epoch = 0
                self._save(epoch, 0, global_step, history)
                if main:
                    self._report(record, writer)
            stopped = epoch < c.optim.epochs
            if main and not stopped:
                save_checkpoint(self.model, self.output / "model.pth")
                self.actor.finalize(self.model, self.output)
                log.info("stage %s done: weights in %s", c.stage, self.output / "model.pth")
        finally:
            if writer is not None:
                writer.close()
            if main and self.timing_file:
                Path(self.timing_file).write_text(json.dumps({
                    "step_end_times": step_times, "global_batch": self.global_batch,
                    "world_size": self.info.world_size}))
        return {"epochs_done": epoch, "global_step": global_step, "history": history, "stopped_early": stopped}

    def _report(self, record: Dict[str, Any], writer) -> None:
        atomic_write(self.output / "metrics.json", lambda tmp: Path(tmp).write_text(
            json.dumps(record_history(self.output, record), indent=1)))
        parts = [f"epoch {record['epoch']}"]
        for split in ("train", "val"):
            for k in ("loss", "iou", "accuracy"):
                if k in record.get(split, {}):
                    parts.append(f"{split} {k} {record[split][k]:.4f}")
                    if writer is not None:
                        writer.add_scalar(f"epoch_{split}/{k}", record[split][k], record["epoch"])
        if "val_tracking" in record:
            auc = record["val_tracking"]["auc"]
            parts.append(f"tracking AUC {auc:.4f}" + (" (best)" if record["val_tracking"].get("best") else ""))
            if writer is not None:
                writer.add_scalar("epoch_val/tracking_auc", auc, record["epoch"])
        log.info("%s", ", ".join(parts))

    def _tensorboard(self):
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError as exc:  # pragma: no cover - tensorboard is a dependency
            log.warning("TensorBoard logging off: %s", exc)
            return None
        return SummaryWriter(log_dir=str(self.output / "tb"))

    def close(self) -> None:
        cleanup_distributed()


def best_tracking_auc(history: List[Dict[str, Any]]) -> Optional[float]:
    """The best validation-by-tracking AUC recorded so far (None before the first)."""
    values = [h["val_tracking"]["auc"] for h in history if isinstance(h.get("val_tracking"), dict)]
    return max(values) if values else None


def record_history(output: Path, record: Dict[str, Any]) -> List[Dict[str, Any]]:
    """metrics.json's list with ``record`` replacing any entry of the same epoch (a resumed run redoes one)."""
    path = output / "metrics.json"
    history: List[Dict[str, Any]] = []
    if path.is_file():
        try:
            history = json.loads(path.read_text())
        except ValueError:
            history = []
    history = [h for h in history if h.get("epoch") != record["epoch"]] + [record]
    return sorted(history, key=lambda h: h["epoch"])
