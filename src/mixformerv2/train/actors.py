"""Actors: each stage of the recipe as "a batch in, a loss and statistics out", over one Trainer.

A batch (from TrackingSampler, already on the device) holds templates uint8 (B,K,3,T,T), search uint8
(B,3,S,S), search_box (B,4) x, y, w, h normalized to the search crop, and label (B,).
"""
from __future__ import annotations

import math
from typing import Dict, Optional, Tuple

import torch
from torch import nn

from ..data.processing import xywh_to_xyxy
from ..geometry import normalize_images
from ..model.heads import box_cxcywh_to_xyxy
from .config import TrainConfig
from .losses import (SIDES, ciou_loss, corner_marginals, feature_mse_loss, l1_loss, score_bce_loss, side_kl_loss,
                     side_target_loss, token_attention_loss)

Stats = Dict[str, float]


def _unwrap(model: nn.Module) -> nn.Module:
    """The model inside a DistributedDataParallel wrapper (or the model itself)."""
    return getattr(model, "module", model)


def model_inputs(batch: Dict[str, torch.Tensor]) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(first template, online templates (B,K-1,3,T,T), search) as normalized float tensors."""
    templates = normalize_images(batch["templates"])
    search = normalize_images(batch["search"])
    return templates[:, 0], templates[:, 1:], search


def elimination_scale(epoch_index: int, epochs: int) -> float:
    """Residual scale of the blocks being removed during 0-based epoch ``epoch_index``:
    r = 0.5 * (1 + cos(pi * e / epochs)) with e = min(epoch + 1, epochs) and epoch = epoch_index + 1."""
    e = min(epoch_index + 2, epochs)
    return 0.5 * (1.0 + math.cos(math.pi * e / epochs))


class Actor:
    """Base actor: box losses (CIoU + L1 on normalized x1, y1, x2, y2, ground truth clamped to [0, 1]), plus the
    optional ground-truth side-distribution loss (``loss.side_target``) for token heads run with logits."""

    stage = "base"
    uses_teacher = False

    def __init__(self, config: TrainConfig, teacher: Optional[nn.Module] = None, nanotrack=None):
        self.config = config
        self.teacher = teacher
        self.nanotrack = nanotrack          # a NanoTrackTeacher (teacher.nanotrack), or None
        if self.uses_teacher and teacher is None and not self._teacher_optional():
            raise ValueError(f"stage {self.stage} needs a teacher")
        w = config.loss
        if (w.nanotrack_kl > 0 or w.nanotrack_feature > 0) and nanotrack is None:
            raise ValueError("loss.nanotrack_kl / loss.nanotrack_feature need a NanoTrack teacher (teacher.nanotrack)")

    def _teacher_optional(self) -> bool:
        return False

    # Which parameters train -----------------------------------------------------------------------
    def freeze(self, model: nn.Module) -> None:
        """Set requires_grad; by default the score head is frozen (it is trained in the score stage)."""
        for name, p in model.named_parameters():
            p.requires_grad_(not name.startswith("score_head.") and p.requires_grad)
        for p in model.backbone.parameters():
            if p is model.backbone.pos_embed_t or p is model.backbone.pos_embed_s:
                p.requires_grad_(False)

    def on_epoch_start(self, model: nn.Module, epoch_index: int) -> Stats:
        return {}

    def box_targets(self, batch: Dict[str, torch.Tensor]) -> torch.Tensor:
        return xywh_to_xyxy(batch["search_box"]).clamp(0.0, 1.0)

    def wants_features(self, model: nn.Module) -> bool:
        """Whether the forward must return every block's tokens (feature distillation, token attention)."""
        w = self.config.loss
        return w.feature > 0 or w.nanotrack_feature > 0 or self._token_attention_on(model)

    def _token_attention_on(self, model: nn.Module) -> bool:
        return self.config.loss.token_attention > 0 and _unwrap(model).config.head == "tokens"

    def box_losses(self, out: Dict[str, torch.Tensor], batch: Dict[str, torch.Tensor],
                   model: Optional[nn.Module] = None) -> Tuple[torch.Tensor, Stats, torch.Tensor]:
        pred = box_cxcywh_to_xyxy(out["pred_boxes"][:, 0].float())
        gt = self.box_targets(batch)
        ciou, iou = ciou_loss(pred, gt)
        l1 = l1_loss(pred, gt)
        w = self.config.loss
        loss = w.ciou * ciou + w.l1 * l1
        stats = {"ciou": ciou.item(), "l1": l1.item()}
        if w.side_target > 0 and "prob_l" in out:
            side = side_target_loss({s: out[f"prob_{s}"] for s in SIDES}, gt)
            loss = loss + w.side_target * side
            stats["side_target"] = side.item()
        if model is not None and self._token_attention_on(model):
            attention = token_attention_loss(_unwrap(model), out["features"], gt, w.token_attention_blocks)
            loss = loss + w.token_attention * attention
            stats["token_attention"] = attention.item()
        if self.nanotrack is not None and model is not None:
            loss = loss + self.nanotrack_losses(out, batch, _unwrap(model), stats)
        return loss, stats, iou

    def nanotrack_losses(self, out: Dict[str, torch.Tensor], batch: Dict[str, torch.Tensor], model: nn.Module,
                         stats: Stats) -> torch.Tensor:
        """loss.nanotrack_kl (side distributions of NanoTrack's dense maps) and loss.nanotrack_feature (token
        similarities of NanoTrack's backbone features) on this batch's first template and search crops."""
        from .nanotrack_teacher import pooled_tokens, token_similarity_loss

        w = self.config.loss
        cfg = model.config
        template, search = batch["templates"][:, 0], batch["search"]
        total = torch.zeros((), device=search.device)
        template_features, search_features = self.nanotrack.crop_features(template, search)  # once for both terms
        if w.nanotrack_kl > 0 and "prob_l" in out:
            sides = self.nanotrack.side_distributions(template, search, cfg.num_bins,
                                                      features=(template_features, search_features))
            kl = side_kl_loss({s: out[f"prob_{s}"] for s in SIDES}, sides)
            total = total + w.nanotrack_kl * kl
            stats["nanotrack_kl"] = kl.item()
        if w.nanotrack_feature > 0:
            features = out["features"][w.nanotrack_feature_block]
            n_t, n_s = cfg.num_template_tokens, cfg.num_search_tokens
            n_all_templates = features.shape[1] - n_s - cfg.num_prediction_tokens
            student = torch.cat([features[:, :n_t], features[:, n_all_templates:n_all_templates + n_s]], dim=1)
            teacher = torch.cat([pooled_tokens(template_features, cfg.template_grid),
                                 pooled_tokens(search_features, cfg.search_grid)], dim=1)
            similarity = token_similarity_loss(student, teacher)
            total = total + w.nanotrack_feature * similarity
            stats["nanotrack_feature"] = similarity.item()
        return total

    def forward(self, model: nn.Module, batch: Dict[str, torch.Tensor]) -> Tuple[torch.Tensor, Stats]:
        raise NotImplementedError

    def finalize(self, model: nn.Module, output_dir) -> None:
        """Called once after the last epoch (rank 0) with the unwrapped model."""


class TeacherActor(Actor):
    """Stage 1: MixViT with the dense corner head, 2*CIoU + 5*L1."""

    stage = "teacher"

    def forward(self, model, batch):
        template, online, search = model_inputs(batch)
        # Logits, so that a token head can also learn from loss.side_target (the box uses the softmax).
        out = model(template, online, search, return_logits=True, return_features=self.wants_features(model))
        loss, stats, iou = self.box_losses(out, batch, model)
        stats.update(loss=loss.item(), iou=iou.mean().item())
        return loss, stats


class DenseToSparseActor(Actor):
    """Stage 2: token student + 5*KL between its side distributions and the corner teacher's marginals. With
    only NanoTrack as the teacher (teacher.nanotrack, no teacher.weights), its dense maps' side distributions
    (loss.nanotrack_kl) take the corner marginals' place."""

    stage = "dense_to_sparse"
    uses_teacher = True

    def _teacher_optional(self) -> bool:
        return self.nanotrack is not None

    def forward(self, model, batch):
        template, online, search = model_inputs(batch)
        out = model(template, online, search, return_logits=True, return_features=self.wants_features(model))
        loss, stats, iou = self.box_losses(out, batch, model)
        if self.teacher is None:
            stats.update(loss=loss.item(), iou=iou.mean().item())
            return loss, stats
        with torch.no_grad():
            t_out = self.teacher(template, online, search)
        teacher_sides = corner_marginals(t_out["prob_tl"], t_out["prob_br"])
        kl = side_kl_loss({s: out[f"prob_{s}"] for s in SIDES}, teacher_sides)
        loss = loss + self.config.loss.kl * kl
        stats.update(kl=kl.item(), loss=loss.item(), iou=iou.mean().item())
        return loss, stats


class DistillActor(Actor):
    """Stages 3b (pruned student fine-tune) and the base of 3a: box losses + KL to the token teacher's side
    distributions + feature MSE at layer pairs (student running-block index, teacher block index)."""

    stage = "finetune"
    uses_teacher = True

    def forward(self, model, batch):
        template, online, search = model_inputs(batch)
        w = self.config.loss
        out = model(template, online, search, return_logits=True, return_features=self.wants_features(model))
        loss, stats, iou = self.box_losses(out, batch, model)
        with torch.no_grad():
            t_out = self.teacher(template, online, search, return_features=w.feature > 0)
        if w.kl > 0:
            kl = side_kl_loss({s: out[f"prob_{s}"] for s in SIDES}, {s: t_out[f"prob_{s}"] for s in SIDES})
            loss = loss + w.kl * kl
            stats["kl"] = kl.item()
        if w.feature > 0:
            mse = feature_mse_loss(out["features"], t_out["features"], self.config.feature_pairs)
            loss = loss + w.feature * mse
            stats["feature"] = mse.item()
        stats.update(loss=loss.item(), iou=iou.mean().item())
        return loss, stats


class ProgressiveEliminationActor(DistillActor):
    """Stage 3a: the blocks in ``elimination.blocks`` fade out (both residual branches times r, cosine
    schedule) with their parameters frozen; at the end the pruned model (blocks dropped and renumbered) is
    written as ``model_pruned.pth``."""

    stage = "progressive_elimination"

    def freeze(self, model):
        super().freeze(model)
        for b in self.config.elimination.blocks:
            for p in model.backbone.blocks[b].parameters():
                p.requires_grad_(False)

    def on_epoch_start(self, model, epoch_index):
        r = elimination_scale(epoch_index, self.config.elimination.epochs)
        model.set_residual_scale(self.config.elimination.blocks, r)
        return {"residual_scale": r}

    def finalize(self, model, output_dir):
        from pathlib import Path

        from ..model import save_checkpoint
        from ..model.surgery import prune_model

        save_checkpoint(prune_model(model, self.config.elimination.blocks), Path(output_dir) / "model_pruned.pth")


class ScoreActor(Actor):
    """Stage 4: only the score head trains, BCE-with-logits on positives and negatives."""

    stage = "score"

    def freeze(self, model):
        if not getattr(model.config, "score_head", False):
            raise ValueError("the score stage needs a model with a score head (model.score_head: true)")
        for name, p in model.named_parameters():
            p.requires_grad_(name.startswith("score_head."))

    def forward(self, model, batch):
        template, online, search = model_inputs(batch)
        out = model(template, online, search)
        logits = out["pred_scores"]
        labels = batch["label"].float()
        loss = self.config.loss.score * score_bce_loss(logits, labels)
        accuracy = ((logits.detach() > 0).float() == labels).float().mean()
        return loss, {"loss": loss.item(), "accuracy": accuracy.item()}


ACTORS = {cls.stage: cls for cls in (TeacherActor, DenseToSparseActor, ProgressiveEliminationActor, DistillActor,
                                     ScoreActor)}


def build_actor(config: TrainConfig, teacher: Optional[nn.Module], nanotrack=None) -> Actor:
    return ACTORS[config.stage](config, teacher, nanotrack)
