"""Success and precision plots of several trackers on one figure (PNG or PDF by the file's suffix)."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

from .scoring import Report

_PANELS = [
    # (curve attribute, thresholds attribute, score attribute, title, x label)
    ("success_curve", "success_thresholds", "auc", "Success plot", "Overlap threshold (IoU)"),
    ("precision_curve", "precision_thresholds", "precision", "Precision plot", "Location error threshold (px)"),
    ("norm_precision_curve", "norm_precision_thresholds", "norm_precision", "Normalized precision plot",
     "Normalized location error threshold"),
]


def plot_report(report: Report, path: Path, attribute: Optional[str] = None, dpi: int = 150) -> Path:
    """Draw every tracker's curves of ``report`` (or of one attribute's subset) and save to ``path``.

    Legends carry the score each curve is ranked by: success AUC (GOT-10k: AO; TrackingNet: the
    trapezoidal areas), precision at 20 px and normalized precision at 0.2.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    path = Path(path)
    if path.suffix.lower() not in (".png", ".pdf", ".svg"):
        raise ValueError(f"plot file {path} must end in .png, .pdf or .svg")
    scores = {}
    for name, tracker in report.trackers.items():
        s = tracker.overall if attribute is None else tracker.per_attribute.get(attribute)
        if s is not None:
            scores[name] = s
    if not scores:
        raise ValueError(f"no tracker has scores for attribute {attribute!r}")
    panels = [p for p in _PANELS if getattr(next(iter(scores.values())), p[0]) is not None]
    fig, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 4.4), squeeze=False)
    subset = "" if attribute is None else f" - {report.attribute_names.get(attribute, attribute)}"
    pooled = report.convention == "got10k"
    for ax, (curve, thresholds, score, title, xlabel) in zip(axes[0], panels):
        ranked = sorted(scores.items(), key=lambda kv: -getattr(kv[1], score))
        for rank, (name, s) in enumerate(ranked):
            label = f"[{getattr(s, score):.3f}] {name}"
            ax.plot(getattr(s, thresholds), getattr(s, curve), label=label, linewidth=2,
                    linestyle=("-", "--", "-.", ":")[rank // 10 % 4])
        n = next(iter(scores.values())).sequences
        heading = ("Success plot (AO)" if pooled and score == "auc" else title)
        ax.set_title(f"{heading} on {report.dataset}{subset} ({n})", fontsize=10)
        ax.set_xlabel(xlabel)
        ax.set_ylabel("Success rate" if score == "auc" else "Precision")
        ax.set_xlim(float(getattr(ranked[0][1], thresholds)[0]), float(getattr(ranked[0][1], thresholds)[-1]))
        ax.set_ylim(0, 1)
        ax.grid(True, linestyle=":")
        ax.legend(loc="lower left" if score == "auc" else "lower right", fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    from ..files import atomic_write

    fmt = path.suffix.lower().lstrip(".")
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=dpi, format=fmt))
    plt.close(fig)
    return path
