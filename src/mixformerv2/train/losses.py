"""Losses of the MixFormerV2 recipe (spec section 6). Boxes are normalized x1, y1, x2, y2 unless a name says
otherwise."""
from __future__ import annotations

import math
from typing import Dict, Sequence, Tuple

import torch
import torch.nn.functional as F

SIDES = ("l", "t", "r", "b")


def box_iou_xyxy(pred: torch.Tensor, target: torch.Tensor, eps: float = 1e-7) -> torch.Tensor:
    """Element-wise IoU of (N, 4) x1, y1, x2, y2 boxes (degenerate predictions give 0)."""
    lt = torch.maximum(pred[:, :2], target[:, :2])
    rb = torch.minimum(pred[:, 2:], target[:, 2:])
    inter = (rb - lt).clamp(min=0).prod(1)
    area_p = (pred[:, 2:] - pred[:, :2]).clamp(min=0).prod(1)
    area_t = (target[:, 2:] - target[:, :2]).clamp(min=0).prod(1)
    return inter / (area_p + area_t - inter + eps)


def ciou_loss(pred: torch.Tensor, target: torch.Tensor, eps: float = 1e-7) -> Tuple[torch.Tensor, torch.Tensor]:
    """Complete-IoU loss: mean of 1 - CIoU with CIoU = IoU - d^2/c^2 - alpha*v, clamped to [-1, 1].

    d: distance between the box centres; c: diagonal of the smallest enclosing box;
    v = 4/pi^2 * (atan(w_t/h_t) - atan(w_p/h_p))^2; alpha = v / (1 - IoU + v), computed without gradient and
    only where IoU > 0.5 (0 elsewhere). Returns (loss, IoU per box (detached))."""
    iou = box_iou_xyxy(pred, target, eps)
    centre_p = (pred[:, :2] + pred[:, 2:]) / 2
    centre_t = (target[:, :2] + target[:, 2:]) / 2
    d2 = ((centre_p - centre_t) ** 2).sum(1)
    enclose = torch.maximum(pred[:, 2:], target[:, 2:]) - torch.minimum(pred[:, :2], target[:, :2])
    c2 = (enclose ** 2).sum(1) + eps
    wp, hp = (pred[:, 2] - pred[:, 0]), (pred[:, 3] - pred[:, 1])
    wt, ht = (target[:, 2] - target[:, 0]), (target[:, 3] - target[:, 1])
    v = (4 / math.pi ** 2) * (torch.atan(wt / (ht + eps)) - torch.atan(wp / (hp + eps))) ** 2
    with torch.no_grad():
        alpha = (iou > 0.5).float() * v / (1 - iou + v + eps)
    ciou = (iou - d2 / c2 - alpha * v).clamp(-1.0, 1.0)
    return (1 - ciou).mean(), iou.detach()


def l1_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference of the box coordinates."""
    return F.l1_loss(pred, target)


def corner_marginals(prob_tl: torch.Tensor, prob_br: torch.Tensor) -> Dict[str, torch.Tensor]:
    """Per-side distributions from the teacher's corner maps (B, M*M), row-major (rows = y):
    left = prob_tl summed over y, top = prob_tl summed over x, right/bottom likewise from prob_br."""
    b, mm = prob_tl.shape
    m = int(round(math.sqrt(mm)))
    if m * m != mm:
        raise ValueError(f"corner maps hold {mm} cells, not a square")
    tl = prob_tl.reshape(b, m, m)
    br = prob_br.reshape(b, m, m)
    return {"l": tl.sum(1), "t": tl.sum(2), "r": br.sum(1), "b": br.sum(2)}


def side_kl_loss(student_logits: Dict[str, torch.Tensor], teacher_probs: Dict[str, torch.Tensor]) -> torch.Tensor:
    """KL(teacher || student) of the four side distributions, batch-mean reduction, averaged over sides.
    student_logits: prob_* logits (B, F) keyed by side; teacher_probs: distributions (B, F) keyed by side."""
    total = 0.0
    for side in SIDES:
        s, t = student_logits[side], teacher_probs[side]
        if s.shape != t.shape:
            raise ValueError(f"side {side}: student has {tuple(s.shape)} bins but the teacher {tuple(t.shape)}; "
                             f"the student's num_bins must equal the teacher's")
        total = total + F.kl_div(F.log_softmax(s.float(), dim=-1), t.float(), reduction="batchmean")
    return total / len(SIDES)


def feature_mse_loss(student: Sequence[torch.Tensor], teacher: Sequence[torch.Tensor],
                     pairs: Sequence[Sequence[int]]) -> torch.Tensor:
    """Mean over (student layer, teacher layer) pairs of the MSE between full token sequences (B, N, E).
    Layers index the models' running blocks (0-based)."""
    if not pairs:
        raise ValueError("feature_mse_loss needs at least one layer pair")
    total = 0.0
    for s, t in pairs:
        if not (0 <= s < len(student) and 0 <= t < len(teacher)):
            raise ValueError(f"feature pair ({s}, {t}) outside the student's {len(student)} and the teacher's "
                             f"{len(teacher)} layers")
        total = total + F.mse_loss(student[s].float(), teacher[t].float())
    return total / len(pairs)


def side_target_distribution(coords: torch.Tensor, num_bins: int) -> torch.Tensor:
    """Soft labels (..., F) for normalized coordinates (...): bin i sits at i / F, and a coordinate is split
    linearly between its two nearest bins so that the label's expectation equals the coordinate (clamped to
    the representable range [0, (F - 1) / F])."""
    pos = coords.float().clamp(0.0, (num_bins - 1) / num_bins) * num_bins
    low = pos.floor().clamp(max=num_bins - 1)
    frac = pos - low
    high = (low + 1).clamp(max=num_bins - 1)
    target = torch.zeros(*coords.shape, num_bins, device=coords.device)
    target.scatter_add_(-1, low.long().unsqueeze(-1), (1 - frac).unsqueeze(-1))
    target.scatter_add_(-1, high.long().unsqueeze(-1), frac.unsqueeze(-1))
    return target


def side_target_loss(student_logits: Dict[str, torch.Tensor], gt_xyxy: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of each side's logits (B, F) against ``side_target_distribution`` of the ground truth
    (B, 4) normalized x1, y1, x2, y2, averaged over the batch and the four sides."""
    coords = {"l": gt_xyxy[:, 0], "t": gt_xyxy[:, 1], "r": gt_xyxy[:, 2], "b": gt_xyxy[:, 3]}
    total = 0.0
    for side in SIDES:
        logits = student_logits[side].float()
        target = side_target_distribution(coords[side], logits.shape[-1])
        total = total - (target * F.log_softmax(logits, dim=-1)).sum(-1).mean()
    return total / len(SIDES)


def score_bce_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy with logits (mean)."""
    return F.binary_cross_entropy_with_logits(logits.float(), labels.float())


def edge_midpoint_targets(gt_xyxy: torch.Tensor, grid: int, sigma: float = 0.75) -> torch.Tensor:
    """(B, 4, grid*grid) distributions over the search-token grid, one per prediction token in order l, r, t, b:
    a Gaussian (``sigma`` in tokens) around the midpoint of that side of the ground-truth box (normalized x1, y1,
    x2, y2 of the search crop). The token looking there sees that side's position in the pixels and positional
    embeddings it reads."""
    x1, y1, x2, y2 = gt_xyxy.float().unbind(-1)
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    points = torch.stack([torch.stack([x1, cy], -1), torch.stack([x2, cy], -1),
                          torch.stack([cx, y1], -1), torch.stack([cx, y2], -1)], 1) * grid  # (B, 4, 2) in tokens
    centres = torch.arange(grid, dtype=torch.float32, device=gt_xyxy.device) + 0.5
    gx = torch.exp(-0.5 * ((centres[None, None] - points[..., :1]) / sigma) ** 2)  # (B, 4, grid)
    gy = torch.exp(-0.5 * ((centres[None, None] - points[..., 1:]) / sigma) ** 2)
    maps = (gy[..., :, None] * gx[..., None, :]).flatten(2)
    return maps / maps.sum(-1, keepdim=True).clamp_min(1e-12)


def token_attention_loss(model, features, gt_xyxy: torch.Tensor, blocks: int = 2) -> torch.Tensor:
    """Cross-entropy between ``edge_midpoint_targets`` and where each prediction token looks among the search
    tokens (attention averaged over heads) in the last ``blocks`` running blocks; ``blocks`` must leave the
    first block out (its input is not among the features). ``features`` is the model's return_features output
    (the full token sequence [templates | search | prediction] after every running block)."""
    cfg = model.config
    running = model.backbone.running
    if not 1 <= blocks < len(running):
        raise ValueError(f"token attention over the last {blocks} blocks: the model runs {len(running)} blocks, "
                         f"so 1 to {len(running) - 1} are possible")
    n_s, n_p = cfg.num_search_tokens, cfg.num_prediction_tokens
    n_t = features[0].shape[1] - n_s - n_p
    target = edge_midpoint_targets(gt_xyxy, cfg.search_grid)
    total = 0.0
    for layer in range(len(running) - blocks, len(running)):
        block = model.backbone.blocks[running[layer]]
        probs = block.attention_map(features[layer - 1], queries=slice(n_t + n_s, None)).mean(1)  # (B, 4, N)
        looked = probs[:, :, n_t:n_t + n_s].clamp_min(1e-8)
        total = total - (target * looked.log()).sum(-1).mean()
    return total / blocks
