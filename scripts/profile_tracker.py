"""Time the tracker step against the model call alone (random weights: the arithmetic is what is timed).

    python scripts/profile_tracker.py --model s --threads 2 [--frames 150] [--targets 1] [SOURCE]

SOURCE is a video or image folder (default: the demo's sample clip, with its first box). The frames go through
the library's tracking loop (``mixformerv2.tracking.run.TrackingLoop``). Prints the per-frame breakdown of
Tracker.update (crop + normalise, model, map-back + update rule, template
encoding) after warm-up, and the backend's search step timed alone on fixed crops, in ms.
"""
from __future__ import annotations

import argparse
import itertools
import time

import numpy as np
import torch

from mixformerv2 import Tracker, build_model
from mixformerv2.data.sample_clip import sample_clip
from mixformerv2.tracking import params_for_model
from mixformerv2.tracking.run import TrackingLoop
from mixformerv2.tracking.sources import open_source


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("source", nargs="?", help="video or image folder (default: synthetic clip)")
    parser.add_argument("--box", default=None, help="initial box x,y,w,h (default: the sample clip's first box)")
    parser.add_argument("--model", default="s", help="preset (random weights)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--frames", type=int, default=150)
    parser.add_argument("--targets", type=int, default=1, help="track this many copies of the box (batch)")
    parser.add_argument("--backend", default="torch")
    parser.add_argument("--warmup", type=int, default=10)
    args = parser.parse_args()

    torch.manual_seed(0)
    model = build_model(args.model).eval()
    tracker = Tracker(model, params_for_model(model), backend=args.backend, threads=args.threads)
    if args.source:
        frames = open_source(args.source)
        if args.box is None:
            parser.error("give --box X,Y,W,H with a SOURCE")
        box = [float(v) for v in args.box.split(",")]
    else:
        clip = sample_clip(min(args.frames + 1, 300))
        frames = clip.frames()
        box = [float(v) for v in (args.box.split(",") if args.box else clip.boxes[0])]
    loop = TrackingLoop(tracker, [box] * args.targets, warmup=args.warmup)
    parts = ("crop", "model", "post", "template")
    per_frame = {k: [] for k in parts + ("step", "alone")}
    for i, frame in enumerate(itertools.islice(frames, args.frames + 1)):
        if i == 0:
            loop.step(frame)
            continue
        before = {k: getattr(tracker.timings, k) for k in parts}
        loop.step(frame)
        # The model call alone, on the crops this frame used, right after the step (same load conditions).
        search = tracker._search.copy()
        start = time.perf_counter()
        tracker.backend.search(tracker._cache, search)
        alone = time.perf_counter() - start
        if i <= args.warmup:
            continue
        for k in parts:
            per_frame[k].append(getattr(tracker.timings, k) - before[k])
        per_frame["step"].append(sum(per_frame[k][-1] for k in parts))
        per_frame["alone"].append(alone)

    def row(name: str, key: str, note: str = "") -> str:
        values = 1e3 * np.asarray(per_frame[key])
        return f"  {name:<18}{np.median(values):9.3f}{values.mean():9.3f}   {note}"

    overhead = 1e3 * (np.asarray(per_frame["crop"]) + np.asarray(per_frame["post"]))
    gap = 1e3 * (np.asarray(per_frame["step"]) - np.asarray(per_frame["template"]) - np.asarray(per_frame["alone"]))
    print(f"model {args.model} (random weights), backend {args.backend}, {torch.get_num_threads()} threads, "
          f"{args.targets} target(s), {len(per_frame['step'])} frames after {args.warmup} warm-up")
    print(f"  {'ms per frame':<18}{'median':>9}{'mean':>9}")
    print(row("tracker step", "step"))
    print(row("model call", "model", "(inside the step)"))
    print(row("model call alone", "alone", "(the same crops again, right after the step)"))
    print(row("crop + normalise", "crop"))
    print(row("map-back + update", "post", "(includes candidate template crops)"))
    print(row("template encoding", "template", f"({tracker.timings.template_encodings} encodings)"))
    print(f"  {'overhead':<18}{np.median(overhead):9.3f}{overhead.mean():9.3f}   (crop + normalise + map-back + update)")
    print(f"  {'step - alone':<18}{np.median(gap):9.3f}{gap.mean():9.3f}   (step without template encoding "
          f"minus the model call alone)")


if __name__ == "__main__":
    main()
