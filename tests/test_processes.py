"""No orphans: when a run is killed with SIGKILL (no chance to clean up), its worker processes, data-loader
workers, forkserver and resource tracker end too, within a few seconds."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mixformerv2.processes import PARENT_POLL_SECONDS, process_alive

ROOT = Path(__file__).resolve().parents[1]
SRC = str(ROOT / "src")


def descendants(pid):
    """Ids of every live descendant of ``pid`` (from /proc)."""
    children = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as f:
                    fields = f.read().rsplit(b")", 1)[1].split()
            except OSError:
                continue
            if fields[0] != b"Z":
                children.setdefault(int(fields[1]), []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def kill_and_check_no_orphans(proc, at_least, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline and len(descendants(proc.pid)) < at_least and proc.poll() is None:
        time.sleep(0.2)
    family = descendants(proc.pid)
    assert proc.poll() is None and len(family) >= at_least, f"the run ended or started too few processes: {family}"
    time.sleep(1.0)
    family = descendants(proc.pid)
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    deadline = time.time() + 15
    while time.time() < deadline and any(process_alive(p) for p in family):
        time.sleep(0.2)
    left = [p for p in family if process_alive(p)]
    for p in left:
        os.kill(p, signal.SIGKILL)
    assert not left, f"{len(left)} of {len(family)} child processes outlived the killed run"


def test_exit_with_ends_a_child_when_its_run_dies():
    script = ("import os, subprocess, sys, time\n"
              "child = subprocess.Popen([sys.executable, '-c', 'import sys, time; from mixformerv2.processes import "
              "exit_with; exit_with(int(sys.argv[1])); time.sleep(60)', str(os.getpid())])\n"
              "print(child.pid, flush=True); time.sleep(60)\n")
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                            env=dict(os.environ, PYTHONPATH=SRC))
    child = int(proc.stdout.readline())
    time.sleep(0.5)
    assert process_alive(child)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    deadline = time.time() + 10 * PARENT_POLL_SECONDS + 5
    while time.time() < deadline and process_alive(child):
        time.sleep(0.1)
    alive = process_alive(child)
    if alive:
        os.kill(child, signal.SIGKILL)
    assert not alive


def test_killed_eval_leaves_no_workers(tmp_path):
    import torch

    from mixformerv2 import build_model, save_checkpoint
    from datasets.layouts import boxes_text, moving_boxes, write_frames

    torch.manual_seed(0)
    weights = tmp_path / "tiny.safetensors"
    save_checkpoint(build_model(dict(embed_dim=64, depth=1, num_heads=4, mlp_ratio=1, template_size=32,
                                     search_size=64, num_bins=8)), weights)
    frames = tmp_path / "frames"
    write_frames(frames, 300)
    root = tmp_path / "LaSOT"
    for i in range(20):
        folder = root / "cat" / f"cat-{i + 1}"
        folder.mkdir(parents=True)
        (folder / "groundtruth.txt").write_text(boxes_text([[20, 15, 16, 12]] * 300))
        (folder / "full_occlusion.txt").write_text(",".join(["0"] * 300))
        (folder / "out_of_view.txt").write_text(",".join(["0"] * 300))
        (folder / "img").symlink_to(frames)
    proc = subprocess.Popen([sys.executable, "-m", "mixformerv2", "eval", "--dataset", "lasot", "--root", str(root),
                             "--weights", str(weights), "--results", str(tmp_path / "results"), "--workers", "2",
                             "--threads", "1", "--no-progress", "--no-score"],
                            env=dict(os.environ, PYTHONPATH=SRC), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    kill_and_check_no_orphans(proc, at_least=3)      # two workers and the resource tracker


@pytest.mark.slow
def test_killed_training_leaves_no_data_loader_workers(tmp_path):
    sys.path.insert(0, str(ROOT / "tests" / "train"))
    from train_helpers import TINY, fast_overrides

    over = fast_overrides(batch=4, steps_per_epoch=50, epochs=20) + [
        "model.head=tokens", "model.depth=2", "data.num_workers=2"]
    proc = subprocess.Popen([sys.executable, "-m", "mixformerv2", "train", str(TINY / "teacher.yaml"), "--output",
                             str(tmp_path / "run"), "--no-progress", *over], cwd=tmp_path,
                            env=dict(os.environ, PYTHONPATH=SRC), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    kill_and_check_no_orphans(proc, at_least=3)      # forkserver and two data-loader workers
