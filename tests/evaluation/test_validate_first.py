"""Commands check every argument before they create or write anything: a wrong --backend or --threads leaves
no results folder behind (which would refuse the next, correct run), and absurd thread counts are refused by
name instead of crashing OpenMP."""
import os

import pytest

from mixformerv2.cli import main
from mixformerv2.tracking.backends import MAX_THREADS_PER_CORE, check_threads

from datasets.layouts import make_lasot
from .test_runner import _eval, tiny_weights  # noqa: F401  (fixture)

TOO_MANY = str(MAX_THREADS_PER_CORE * (os.cpu_count() or 1) + 1)


@pytest.mark.parametrize("extra,message", [
    (["--backend", "nosuch"], "--backend: unknown backend 'nosuch'"),
    (["--threads", "0"], "--threads must be >= 1"),
    (["--threads", "100000"], "far more than this machine's"),
])
def test_eval_refuses_before_creating_the_results_folder(tmp_path, tiny_weights, capsys, extra, message):  # noqa: F811
    root = make_lasot(tmp_path / "LaSOT")
    results = tmp_path / "results" / "tiny"
    assert _eval(root, tiny_weights, results, *extra) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "results").exists()
    assert _eval(root, tiny_weights, results) == 0        # the correct run is not refused afterwards


@pytest.mark.parametrize("command", [
    ["track", "SEQ", "--box", "10,10,20,20"],
    ["compare", "--root", "SEQ", "--tracker", "csrt"],
    ["bench"],
    ["demo", "--out", "OUT"],
])
def test_absurd_thread_counts_are_refused_by_name(tmp_path, capsys, command):
    args = [str(tmp_path / "out") if a == "OUT" else str(tmp_path) if a == "SEQ" else a for a in command]
    assert main(args + ["--threads", TOO_MANY]) == 2
    err = capsys.readouterr().err
    assert "--threads" in err and "far more than this machine's" in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


def test_check_threads():
    assert check_threads(2) == 2 and check_threads("3") == 3
    for bad in (0, -1, "two", None, 10 ** 9):
        with pytest.raises(ValueError):
            check_threads(bad)
