"""`mixformerv2 app` on the command line: it starts, says where, serves, stops on Ctrl-C; bad options stop it."""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request

import pytest

from mixformerv2.cli import main


def test_app_starts_serves_and_stops_on_ctrl_c(tmp_path):
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    process = subprocess.Popen([sys.executable, "-m", "mixformerv2", "app", "--port", "0", "--workdir",
                                str(tmp_path / "work"), "--backend", "torch", "--threads", "1"],
                               stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env)
    try:
        deadline = time.time() + 120
        line = ""
        while time.time() < deadline and "open http" not in line:
            line = process.stderr.readline()
            if not line and process.poll() is not None:
                raise AssertionError(f"the app exited with {process.returncode}")
        url = re.search(r"open (http://127\.0\.0\.1:\d+/)", line).group(1)
        with urllib.request.urlopen(url + "api/info", timeout=30) as response:
            info = json.load(response)
        assert info["backend"] == "torch"
        with urllib.request.urlopen(url, timeout=30) as response:
            assert b"MixFormerV2 tracker" in response.read()
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0
        assert "stopped" in process.stderr.read()
    finally:
        if process.poll() is None:
            process.kill()
    assert (tmp_path / "work" / "jobs").is_dir()      # --workdir is kept


@pytest.mark.parametrize("args, message", [
    (["--port", "70000"], "--port must be 0..65535"),
    (["--max-upload-mb", "0"], "--max-upload-mb must be > 0"),
    (["--max-frames", "1"], "--max-frames must be >= 2"),
    (["--workers", "0"], "--workers must be 1..64"),
    (["--backend", "gpu"], "--backend 'gpu'"),
    (["--model", "nonsense"], "unknown model 'nonsense'"),
    (["--weights", "/nonexistent/model.pth"], "/nonexistent/model.pth"),
])
def test_bad_options_stop_with_a_message(capsys, args, message):
    assert main(["app"] + args) == 2
    assert message in capsys.readouterr().err


def test_a_port_in_use_is_reported(capsys):
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        port = sock.getsockname()[1]
        assert main(["app", "--port", str(port), "--backend", "torch"]) == 2
    assert "Address already in use" in capsys.readouterr().err
