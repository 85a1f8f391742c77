"""Single-crop box accuracy: a model's boxes on crop pairs of a validation set, beside NanoTrack's.

Crop pairs are made by the training pipeline (the first template and one online template of a sequence, a
search frame up to --max-gap frames later) with no photometric augmentation, under three search-crop jitters:

- ``train``: the training jitter (--center-jitter, --scale-jitter; the default configs' 3.5 and 0.4);
- ``track``: as the tracker's crops around the previous box are (centre within +-0.5 target sizes, sizes times
  exp(N(0, 0.15)));
- ``centred``: the crop centred on the true box at its size.

For each it prints the mean IoU of the predicted box with the ground truth (both in normalized search-crop
coordinates), the share above 0.5 and the mean |log(predicted / true)| of width and height; NanoTrack's box is
the expectation of its side distributions (``NanoTrackTeacher.side_distributions``, 64 bins).

    python scripts/crop_accuracy.py src/mixformerv2/assets/default.safetensors \
        --root ../shared/data/real --split val --nanotrack ../shared/models/nanotrack/v3
"""
from __future__ import annotations

import argparse
from typing import Dict

import torch

from mixformerv2.data.datasets import GOT10k
from mixformerv2.data.processing import PairProcessing, ProcessingConfig, xywh_to_xyxy
from mixformerv2.data.sampler import SamplerConfig, TrackingSampler
from mixformerv2.geometry import normalize_images
from mixformerv2.model.checkpoint import load_checkpoint
from mixformerv2.model.heads import box_cxcywh_to_xyxy
from mixformerv2.train.losses import box_iou_xyxy


def summary(boxes: torch.Tensor, gt: torch.Tensor) -> str:
    """Mean IoU, share above 0.5 and mean |log size ratio| of (N, 4) x1, y1, x2, y2 boxes against the truth."""
    ious = box_iou_xyxy(boxes, gt)
    sizes = (boxes[:, 2:] - boxes[:, :2]).clamp_min(1e-4)
    w, h = torch.log(sizes / (gt[:, 2:] - gt[:, :2])).abs().mean(dim=0).tolist()
    return f"IoU {ious.mean():.3f} (>0.5: {(ious > 0.5).float().mean():.3f}), |log size error| w {w:.3f} h {h:.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("weights", help="model checkpoint (.safetensors or .pth with its stored config)")
    parser.add_argument("--root", required=True, help="a GOT-10k-layout folder (e.g. ../shared/data/real)")
    parser.add_argument("--split", default="val", help="its split folder (default val)")
    parser.add_argument("--nanotrack", help="NanoTrack folder (backbone.onnx, head.onnx) to compare with")
    parser.add_argument("--pairs", type=int, default=384, help="crop pairs per jitter (default 384)")
    parser.add_argument("--search-factor", type=float, default=4.0)
    parser.add_argument("--center-jitter", type=float, default=3.5, help="the 'train' centre jitter")
    parser.add_argument("--scale-jitter", type=float, default=0.4, help="the 'train' scale jitter")
    parser.add_argument("--max-gap", type=int, default=100)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    model = load_checkpoint(args.weights).eval()
    config = model.config
    teacher = None
    if args.nanotrack:
        from mixformerv2.train.nanotrack_teacher import NanoTrackTeacher
        teacher = NanoTrackTeacher(args.nanotrack, threads=args.threads)
    dataset = GOT10k(args.root, split=args.split)
    positions = torch.arange(64, dtype=torch.float32) / 64
    tracking_like = ProcessingConfig()  # its search_tracking_* jitter: the tracker's crops
    jitters = {"train": (args.center_jitter, args.scale_jitter),
               "track": (tracking_like.search_tracking_center_jitter, tracking_like.search_tracking_scale_jitter),
               "centred": (0.0, 0.0)}
    for name, (center_jitter, scale_jitter) in jitters.items():
        processing = ProcessingConfig(template_factor=2.0, search_factor=args.search_factor,
                                      search_center_jitter=center_jitter, search_scale_jitter=scale_jitter,
                                      brightness_jitter=0, grayscale_prob=0, flip_prob=0)
        sampler = TrackingSampler([dataset], [1.0], PairProcessing(processing, config.template_size,
                                                                   config.search_size),
                                  SamplerConfig(samples_per_epoch=args.pairs, max_gap=args.max_gap,
                                                num_templates=2),
                                  seed=args.seed)
        results: Dict[str, list] = {"model": [], "nanotrack": []}
        for start in range(0, args.pairs, 32):
            batch = [sampler[(0, i)] for i in range(start, min(start + 32, args.pairs))]
            templates = torch.stack([b["templates"] for b in batch])
            search = torch.stack([b["search"] for b in batch])
            gt = xywh_to_xyxy(torch.stack([b["search_box"] for b in batch]))
            online = [normalize_images(templates[:, k]) for k in range(1, templates.shape[1])]
            with torch.no_grad():
                boxes = model(normalize_images(templates[:, 0]), online or None,
                              normalize_images(search))["pred_boxes"][:, 0]
            boxes = box_cxcywh_to_xyxy(boxes)
            results["model"].append((boxes, gt))
            if teacher is not None:
                sides = teacher.side_distributions(templates[:, 0], search, len(positions))
                expected = [(sides[k] * positions).sum(1) / sides[k].sum(1) for k in ("l", "t", "r", "b")]
                results["nanotrack"].append((torch.stack(expected, dim=1), gt))
        line = [f"{name:8s}"]
        for who, pairs in results.items():
            if pairs:
                boxes, gt = (torch.cat(x) for x in zip(*pairs))
                line.append(f"{who}: " + summary(boxes, gt))
        print(" | ".join(line), flush=True)


if __name__ == "__main__":
    main()
