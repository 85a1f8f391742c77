"""--threads auto: the cores other work leaves free, at least one; explained on stderr."""
import pytest

from mixformerv2.cli import main
from mixformerv2.cli.common import threads_argument
from mixformerv2.tracking.backends import auto_threads

from .test_cli_track import crossing


@pytest.mark.parametrize("cores,load,expected", [(2, 0.1, 2), (2, 1.0, 1), (2, 2.1, 1), (2, 9.0, 1), (8, 3.0, 5),
                                                 (1, 0.0, 1)])
def test_auto_threads_leaves_the_busy_cores(cores, load, expected):
    threads, why = auto_threads(cores, load)
    assert threads == expected and f"{cores} core" in why and f"{load:.2f}" in why


def test_threads_argument():
    assert threads_argument("auto") == "auto" and threads_argument("AUTO") == "auto" and threads_argument("3") == 3
    with pytest.raises(Exception, match="whole number or auto"):
        threads_argument("many")


def test_track_explains_its_thread_count(tiny_weights, tmp_path, capsys):
    folder, first = crossing()
    assert main(["track", str(folder), "--box", ",".join(f"{v:g}" for v in first), "--weights", str(tiny_weights),
                 "--max-frames", "3", "--out", str(tmp_path / "b.txt")]) == 0
    captured = capsys.readouterr()
    assert "threads auto: " in captured.err
    threads = int(captured.err.split("threads auto: ")[1].split()[0])
    assert f"{threads} thread" in captured.out
