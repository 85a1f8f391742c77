"""The standard single-object-tracking metrics, each under a named convention.

Boxes are x, y, w, h in pixels throughout. The conventions follow the benchmark toolkits
(see ``CONVENTIONS``); none of them is blended with another:

``ope``            one-pass evaluation as pytracking / the OTB toolkit compute it (OTB, TNL2k, NfS, VOT, ...):
                   per-sequence curves averaged over sequences; invalid ground truth fails every metric.
``lasot``          the official LaSOT toolkit: absent frames (full occlusion / out of view) stay in the
                   denominator and fail every metric, normalized precision included; each averaged curve
                   leaves out the sequences whose curve is zero everywhere.
``uav-pytracking`` UAV123 as pytracking scores it: NaN (target absent) rows fail success but count as
                   successes for precision and normalized precision.
``uav-got10k``     UAV123 as the got10k toolkit scores it: NaN rows are removed from numerator and denominator.
``got10k``         GOT-10k AO / SR: frame 1 excluded, only frames with the target visible (cover > 0), boxes
                   clipped to the image; IoUs of all frames of all sequences (and repetitions) pooled.
``trackingnet``    the TrackingNet devkit: boxes rounded to integers, centre x + (w + 1) / 2, 21 thresholds
                   per curve and every score the trapezoidal area under its curve.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Dict, Iterable, Optional, Sequence

import numpy as np

from ..geometry import iou

log = logging.getLogger(__name__)

# Thresholds of the one-pass curves: IoU (strictly greater), centre error in px and normalized (at most).
SUCCESS_THRESHOLDS = np.linspace(0.0, 1.0, 21)
PRECISION_THRESHOLDS = np.arange(0, 51, dtype=np.float64)
NORM_PRECISION_THRESHOLDS = np.arange(0, 51, dtype=np.float64) / 100.0
# TrackingNet devkit: 21 points on each axis.
TRACKINGNET_PRECISION_THRESHOLDS = np.linspace(0.0, 50.0, 21)
TRACKINGNET_NORM_PRECISION_THRESHOLDS = np.linspace(0.0, 0.5, 21)
# Index of 20 px / 0.20 in the one-pass precision curves.
_PRECISION_INDEX = 20


@dataclass(frozen=True)
class Convention:
    name: str
    description: str


CONVENTIONS: Dict[str, Convention] = {c.name: c for c in [
    Convention("ope", "one-pass, per-sequence averaging (pytracking / OTB toolkit); invalid ground truth fails"),
    Convention("lasot", "official LaSOT toolkit: absent frames fail every metric; all-zero curves left out"),
    Convention("uav-pytracking", "UAV123 as pytracking: NaN rows fail success, count as precision successes"),
    Convention("uav-got10k", "UAV123 as the got10k toolkit: NaN rows removed from numerator and denominator"),
    Convention("got10k", "GOT-10k AO/SR: frame 1 excluded, visible frames only, clipped boxes, IoUs pooled"),
    Convention("trackingnet", "TrackingNet devkit: integer boxes, centre x+(w+1)/2, trapezoidal areas"),
]}


class ResultLengthError(ValueError):
    """A result file with fewer boxes than the sequence has frames."""


def get_convention(name: str) -> Convention:
    try:
        return CONVENTIONS[name]
    except KeyError:
        raise ValueError(f"unknown scoring convention {name!r}; known: {', '.join(CONVENTIONS)}") from None


# ----------------------------------------------------------------------------------------------- boxes
def centers(boxes: np.ndarray, offset: float = -1.0) -> np.ndarray:
    """Box centres (cx, cy) in pixels: x + (w + offset) / 2. offset -1 is pytracking / LaSOT / got10k,
    +1 is the TrackingNet devkit."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    return boxes[:, :2] + (boxes[:, 2:] + offset) / 2.0


def valid_boxes(boxes: np.ndarray) -> np.ndarray:
    """Rows that are finite with w > 0 and h > 0."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    return np.isfinite(boxes).all(axis=1) & (boxes[:, 2] > 0) & (boxes[:, 3] > 0)


# What each convention does with a result file shorter than the ground truth: the LaSOT toolkit and the
# got10k toolkit refuse it; pytracking (OTB, UAV123, NfS, ...) and the TrackingNet devkit score the missing
# frames as failures.
SHORT_RESULTS = {"ope": "pad", "lasot": "error", "uav-pytracking": "pad", "uav-got10k": "pad", "got10k": "error",
                 "trackingnet": "pad"}


def prepare_predictions(pred: np.ndarray, gt: np.ndarray, source: str = "results", short: str = "error") -> np.ndarray:
    """The predictions a one-pass toolkit scores: truncated to the ground truth's length, frame 1 replaced
    by the ground truth, and every NaN / infinite or non-positive-size prediction replaced by the previous
    one (LaSOT toolkit; kept where the ground truth row itself has NaN).

    A file shorter than the ground truth raises ResultLengthError (``short='error'``) or has its missing
    frames filled with NaN boxes that fail every metric (``short='pad'``, pytracking's zero padding).
    """
    pred = np.array(pred, dtype=np.float64).reshape(-1, 4)
    gt = np.asarray(gt, dtype=np.float64).reshape(-1, 4)
    missing = len(gt) - len(pred)
    if missing > 0 and short != "pad":
        raise ResultLengthError(f"{source}: {len(pred)} boxes for a sequence of {len(gt)} frames")
    if missing < 0:
        log.warning("%s: %d boxes for a sequence of %d frames; the last %d are ignored (is it another sequence's "
                    "file?)", source, len(pred), len(gt), -missing)
    pred = pred[:len(gt)].copy()
    if len(pred):
        pred[0] = gt[0]
    bad = ~valid_boxes(pred)
    gt_has_nan = np.isnan(gt[:len(pred)]).any(axis=1)
    for i in np.nonzero(bad)[0]:
        if i > 0 and not gt_has_nan[i]:
            pred[i] = pred[i - 1]
    if missing > 0:
        pred = np.concatenate([pred, np.full((missing, 4), np.nan)])
    return pred


# ------------------------------------------------------------------------------------ per-sequence
@dataclass
class SequenceResult:
    """One tracker on one sequence. One-pass conventions fill the three curves (fractions of the
    sequence's scored frames); ``got10k`` fills ``ious`` (the pooled frames' IoUs)."""
    name: str
    success: Optional[np.ndarray] = None
    precision: Optional[np.ndarray] = None
    norm_precision: Optional[np.ndarray] = None
    ious: Optional[np.ndarray] = None
    num_frames: int = 0
    padded_frames: int = 0

    def summary(self, convention: str) -> Dict[str, float]:
        if self.ious is not None:
            return _pooled_scores(self.ious)
        return _curve_scores(convention, self.success, self.precision, self.norm_precision)


def score_sequence(convention: str, pred: np.ndarray, gt: np.ndarray, *, name: str = "",
                   visible: Optional[np.ndarray] = None, cover: Optional[np.ndarray] = None,
                   image_size: Optional[Sequence[float]] = None, source: str = "results") -> SequenceResult:
    """Score one result against its ground truth (both (N, 4) x, y, w, h px) under ``convention``.

    ``visible``: per-frame target visibility (LaSOT's not-absent flags). ``cover``: GOT-10k visible-ratio
    levels (0 = invisible). ``image_size``: (width, height) for GOT-10k clipping. For ``got10k`` ``pred``
    may be a list of repetitions, pooled together.
    """
    get_convention(convention)
    gt = np.asarray(gt, dtype=np.float64).reshape(-1, 4)
    if convention == "got10k":
        several = isinstance(pred, (list, tuple)) and len(pred) > 0 and np.ndim(pred[0]) == 2
        runs = list(pred) if several else [pred]
        ious = [_got10k_ious(np.asarray(r, dtype=np.float64).reshape(-1, 4), gt, cover, visible, image_size,
                             source) for r in runs]
        return SequenceResult(name, ious=np.concatenate(ious) if ious else np.zeros(0), num_frames=len(gt))
    if convention == "trackingnet":
        return _trackingnet_sequence(pred, gt, name, source)

    padded = max(len(gt) - len(np.asarray(pred).reshape(-1, 4)), 0)
    pred = prepare_predictions(pred, gt, source, SHORT_RESULTS[convention])
    n = len(gt)
    valid = valid_boxes(gt)
    if convention == "lasot" and visible is not None:
        valid &= _as_mask(visible, n, "visibility flags")
    overlaps = np.full(n, -1.0)
    overlaps[valid] = iou(pred[valid], gt[valid])
    overlaps[np.isnan(overlaps)] = -1.0
    err = np.full(n, np.inf)
    err_norm = np.full(n, np.inf)
    delta = centers(pred[valid]) - centers(gt[valid])
    err[valid] = np.sqrt((delta ** 2).sum(axis=1))
    err_norm[valid] = np.sqrt(((delta / gt[valid, 2:]) ** 2).sum(axis=1))
    err[np.isnan(err)] = np.inf
    err_norm[np.isnan(err_norm)] = np.inf
    denominator = n
    if convention == "uav-pytracking":
        err[~valid] = -1.0       # pytracking's UAV special case: such frames pass every precision threshold
        err_norm[~valid] = -1.0
    elif convention == "uav-got10k":
        keep = ~np.isnan(gt).any(axis=1)
        overlaps, err, err_norm = overlaps[keep], err[keep], err_norm[keep]
        denominator = int(keep.sum())
    scale = 1.0 / max(denominator, 1)
    success = (overlaps[:, None] > SUCCESS_THRESHOLDS[None, :]).sum(axis=0) * scale
    precision = (err[:, None] <= PRECISION_THRESHOLDS[None, :]).sum(axis=0) * scale
    norm_precision = (err_norm[:, None] <= NORM_PRECISION_THRESHOLDS[None, :]).sum(axis=0) * scale
    return SequenceResult(name, success, precision, norm_precision, num_frames=denominator, padded_frames=padded)


def _as_mask(flags, n: int, what: str) -> np.ndarray:
    flags = np.asarray(flags).reshape(-1).astype(bool)
    if len(flags) != n:
        raise ValueError(f"{what}: {len(flags)} entries for a sequence of {n} frames")
    return flags


def _got10k_ious(pred, gt, cover, visible, image_size, source) -> np.ndarray:
    if len(pred) != len(gt):
        raise ResultLengthError(f"{source}: {len(pred)} boxes for a sequence of {len(gt)} frames "
                                f"(GOT-10k requires one box per frame)")
    pred, gt = pred[1:].copy(), gt[1:].copy()
    if image_size is not None:
        width, height = float(image_size[0]), float(image_size[1])
        for boxes in (pred, gt):
            boxes[:, 0] = np.clip(boxes[:, 0], 0, width)
            boxes[:, 1] = np.clip(boxes[:, 1], 0, height)
            boxes[:, 2] = np.clip(boxes[:, 2], 0, width - boxes[:, 0])
            boxes[:, 3] = np.clip(boxes[:, 3], 0, height - boxes[:, 1])
    if cover is not None:
        keep = _as_mask(np.asarray(cover) > 0, len(gt) + 1, "cover levels")[1:]
    elif visible is not None:
        keep = _as_mask(visible, len(gt) + 1, "visibility flags")[1:]
    else:
        keep = valid_boxes(gt)
    values = iou(pred[keep], gt[keep])
    values[~np.isfinite(values)] = 0.0      # a NaN prediction is a miss
    return np.clip(values, 0.0, 1.0)


def _trackingnet_sequence(pred, gt, name, source) -> SequenceResult:
    pred = np.asarray(pred, dtype=np.float64).reshape(-1, 4)
    padded = max(len(gt) - len(pred), 0)
    if padded:  # the devkit aligns rows by index: missing rows are NaN, failures everywhere
        pred = np.concatenate([pred, np.full((padded, 4), np.nan)])
    pred = np.round(pred[:len(gt)])   # numpy rounds halves to even, as the devkit does
    gt = np.round(gt)
    pred[0] = gt[0]
    valid = valid_boxes(gt)
    overlaps = np.full(len(gt), -1.0)
    overlaps[valid] = iou(pred[valid], gt[valid])
    delta = centers(pred, offset=1.0) - centers(gt, offset=1.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        err = np.sqrt((delta ** 2).sum(axis=1))
        err_norm = np.sqrt(((delta / gt[:, 2:]) ** 2).sum(axis=1))
    err[~valid] = np.inf
    err_norm[~valid] = np.inf
    # NaN predictions compare False everywhere: a miss, as in the devkit.
    n = max(len(gt), 1)
    with np.errstate(invalid="ignore"):
        success = (overlaps[:, None] > SUCCESS_THRESHOLDS[None, :]).sum(axis=0) / n
        precision = (err[:, None] <= TRACKINGNET_PRECISION_THRESHOLDS[None, :]).sum(axis=0) / n
        norm_precision = (err_norm[:, None] <= TRACKINGNET_NORM_PRECISION_THRESHOLDS[None, :]).sum(axis=0) / n
    return SequenceResult(name, success, precision, norm_precision, num_frames=len(gt), padded_frames=padded)


# ------------------------------------------------------------------------------------- aggregation
@dataclass
class Scores:
    """A tracker's scores over a set of sequences (fractions in [0, 1]).

    One-pass conventions: ``auc`` is the success AUC (TrackingNet: trapezoidal area), ``op50``/``op75``
    the success rate at IoU 0.5/0.75, ``precision`` at 20 px and ``norm_precision`` at 0.20 (TrackingNet:
    trapezoidal areas). ``got10k``: ``auc`` = AO, ``op50`` = SR0.5, ``op75`` = SR0.75; no precision.
    """
    convention: str
    auc: float
    op50: float
    op75: float
    precision: Optional[float]
    norm_precision: Optional[float]
    sequences: int
    success_curve: np.ndarray
    success_thresholds: np.ndarray
    precision_curve: Optional[np.ndarray] = None
    precision_thresholds: Optional[np.ndarray] = None
    norm_precision_curve: Optional[np.ndarray] = None
    norm_precision_thresholds: Optional[np.ndarray] = None
    excluded: Dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> Dict[str, object]:
        """The JSON entry: auc, precision, norm_precision, op50, op75 (fractions) and sequences (count)."""
        def num(v):
            return None if v is None else round(float(v), 6)
        return {"auc": num(self.auc), "precision": num(self.precision), "norm_precision": num(self.norm_precision),
                "op50": num(self.op50), "op75": num(self.op75), "sequences": int(self.sequences)}


def aggregate(convention: str, results: Iterable[SequenceResult]) -> Scores:
    """Combine per-sequence results the way ``convention`` does (averaged curves, or pooled IoUs)."""
    get_convention(convention)
    results = list(results)
    if not results:
        raise ValueError("no sequences to score")
    if convention == "got10k":
        ious = np.concatenate([r.ious for r in results])
        scores = _pooled_scores(ious)
        curve = (ious[:, None] > SUCCESS_THRESHOLDS[None, :]).mean(axis=0) if len(ious) else \
            np.zeros_like(SUCCESS_THRESHOLDS)
        return Scores(convention, scores["auc"], scores["op50"], scores["op75"], None, None, len(results),
                      curve, SUCCESS_THRESHOLDS)
    curves = {}
    excluded = {}
    for kind in ("success", "precision", "norm_precision"):
        stack = np.stack([getattr(r, kind) for r in results])
        if convention == "lasot":
            # the LaSOT toolkit averages only the sequences whose curve is not zero everywhere
            keep = stack.sum(axis=1) > np.finfo(np.float64).eps
            excluded[kind] = int((~keep).sum())
            stack = stack[keep] if keep.any() else stack
        curves[kind] = stack.mean(axis=0)
    s = _curve_scores(convention, curves["success"], curves["precision"], curves["norm_precision"])
    if convention == "trackingnet":
        p_thr, n_thr = TRACKINGNET_PRECISION_THRESHOLDS, TRACKINGNET_NORM_PRECISION_THRESHOLDS
    else:
        p_thr, n_thr = PRECISION_THRESHOLDS, NORM_PRECISION_THRESHOLDS
    return Scores(convention, s["auc"], s["op50"], s["op75"], s["precision"], s["norm_precision"], len(results),
                  curves["success"], SUCCESS_THRESHOLDS, curves["precision"], p_thr, curves["norm_precision"],
                  n_thr, {k: v for k, v in excluded.items() if v})


def _trapezoid_area(curve: np.ndarray) -> float:
    """Area under a curve sampled at equally spaced points over an axis rescaled to [0, 1]."""
    curve = np.asarray(curve, dtype=np.float64)
    step = 1.0 / (len(curve) - 1)
    return float(step * (curve[1:] + curve[:-1]).sum() / 2.0)


def _curve_scores(convention, success, precision, norm_precision) -> Dict[str, float]:
    op50 = float(success[10])  # thresholds 0, 0.05, ..., 1: index 10 is 0.5, 15 is 0.75
    op75 = float(success[15])
    if convention == "trackingnet":
        return {"auc": _trapezoid_area(success), "precision": _trapezoid_area(precision),
                "norm_precision": _trapezoid_area(norm_precision), "op50": op50, "op75": op75}
    return {"auc": float(np.mean(success)), "precision": float(precision[_PRECISION_INDEX]),
            "norm_precision": float(norm_precision[_PRECISION_INDEX]), "op50": op50, "op75": op75}


def _pooled_scores(ious: np.ndarray) -> Dict[str, float]:
    ious = np.asarray(ious, dtype=np.float64)
    if not len(ious):
        return {"auc": 0.0, "op50": 0.0, "op75": 0.0, "precision": None, "norm_precision": None}
    return {"auc": float(ious.mean()), "op50": float((ious > 0.5).mean()), "op75": float((ious > 0.75).mean()),
            "precision": None, "norm_precision": None}

