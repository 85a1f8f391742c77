#!/usr/bin/env python
"""Summarise the training runs of a staged recipe as Markdown: per stage, per epoch, the training loss
and IoU (or score accuracy), the validation numbers, and the wall time.

    python scripts/training_log_summary.py runs/default teacher dense_to_sparse score > configs/default/TRAINING_LOG.md

Reads each stage's ``metrics.json`` (with a "tracking AUC" column where the stage validated by tracking, the
best epoch marked). Wall time per epoch comes from the record's ``seconds`` when present,
otherwise from the TensorBoard event times in ``tb/`` (gaps over 15 minutes, a stopped and resumed run,
are left out of the total and reported).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Dict, List, Optional, Tuple

GAP_SECONDS = 15 * 60


def event_times(tb_folder: Path) -> Dict[int, float]:
    """Global step -> wall time (seconds since the epoch) of the ``train/loss`` scalars in ``tb_folder``."""
    if not tb_folder.is_dir():
        return {}
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    times: Dict[int, float] = {}
    for events in sorted(tb_folder.glob("events.out.tfevents.*")):
        acc = EventAccumulator(str(events), size_guidance={"scalars": 0})
        acc.Reload()
        if "train/loss" in acc.Tags().get("scalars", []):
            for event in acc.Scalars("train/loss"):
                times[event.step] = event.wall_time
    return times


def epoch_seconds(records: List[dict], times: Dict[int, float]) -> List[Optional[float]]:
    """Each record's wall time: its ``seconds``, else the event-time span since the previous epoch's last
    step (None when neither is known). Spans containing a gap longer than GAP_SECONDS lose the gap."""
    out: List[Optional[float]] = []
    steps = sorted(times)
    previous_end = 0
    for record in records:
        if "seconds" in record:
            out.append(float(record["seconds"]))
        else:
            inside = [s for s in steps if previous_end < s <= record["global_step"]]
            if len(inside) < 2:
                out.append(None)
            else:
                spans = [(times[b] - times[a], b - a) for a, b in zip(inside, inside[1:])]
                kept = [(d, n) for d, n in spans if d < GAP_SECONDS]
                covered = sum(n for _, n in kept)
                rate = sum(d for d, _ in kept) / covered if covered else 0.0   # seconds per step
                out.append(rate * (record["global_step"] - previous_end))
        previous_end = record["global_step"]
    return out


def stage_table(name: str, folder: Path) -> Tuple[str, float]:
    records = json.loads((folder / "metrics.json").read_text())
    seconds = epoch_seconds(records, event_times(folder / "tb"))
    score_stage = any("accuracy" in r.get("train", {}) for r in records)
    metric = "accuracy" if score_stage else "iou"
    tracking = any("val_tracking" in r for r in records)
    lines = [f"### {name}", "", f"| epoch | steps | train loss | train {metric} | val loss | val {metric} | "
                                + ("tracking AUC | " if tracking else "") + "minutes |",
             "|---:|---:|---:|---:|---:|---:|" + ("---:|" if tracking else "") + "---:|"]
    for record, sec in zip(records, seconds):
        train, val = record.get("train", {}), record.get("val", {})

        def fmt(d, k):
            return f"{d[k]:.4f}" if k in d else ""

        auc = ""
        if tracking and "val_tracking" in record:
            auc = f"{record['val_tracking']['auc']:.4f}" + (" (best)" if record["val_tracking"].get("best") else "")
        lines.append(f"| {record['epoch']} | {record['global_step']} | {fmt(train, 'loss')} | {fmt(train, metric)} | "
                     f"{fmt(val, 'loss')} | {fmt(val, metric)} | " + (f"{auc} | " if tracking else "")
                     + f"{'' if sec is None else f'{sec / 60:.1f}'} |")
    total = sum(s for s in seconds if s is not None)
    lines += ["", f"{len(records)} epochs, {records[-1]['global_step'] if records else 0} steps, "
                  f"{total / 3600:.2f} h of training.", ""]
    return "\n".join(lines), total


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("root", type=Path, help="folder holding one output folder per stage")
    parser.add_argument("stages", nargs="+", help="stage folder names, in order")
    args = parser.parse_args(argv)
    parts, total = [], 0.0
    for stage in args.stages:
        folder = args.root / stage
        if not (folder / "metrics.json").is_file():
            print(f"{folder}/metrics.json not found", file=sys.stderr)
            return 1
        text, seconds = stage_table(stage, folder)
        parts.append(text)
        total += seconds
    print(f"# Training log: {args.root}\n")
    print(f"Stages {', '.join(args.stages)}: {total / 3600:.2f} h of training in all (2-core CPU, 1 process).\n")
    print("\n".join(parts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
