"""A running app for the app's tests: served from a thread on a free port of 127.0.0.1."""
from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from typing import Optional, Tuple

import pytest


def start_app(tmp_path, **settings):
    from mixformerv2.app import AppConfig, AppServer

    config = AppConfig(**dict(dict(backend="torch", threads=1, workdir=tmp_path / "work"), **settings))
    server = AppServer("127.0.0.1", 0, config)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    return server, thread


@pytest.fixture
def app(tmp_path):
    server, thread = start_app(tmp_path)
    yield server
    server.shutdown()
    thread.join(timeout=10)
    server.close()


def call(server, path: str, data=None, method: Optional[str] = None, json_body=None,
         headers=None) -> Tuple[int, object]:
    """(status, decoded JSON or raw bytes) of one request to ``server``."""
    headers = dict(headers or {})
    if json_body is not None:
        data = json.dumps(json_body).encode()
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(server.url.rstrip("/") + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            status, body, kind = response.status, response.read(), response.headers.get("Content-Type", "")
    except urllib.error.HTTPError as exc:
        status, body, kind = exc.code, exc.read(), exc.headers.get("Content-Type", "")
    return status, (json.loads(body) if kind.startswith("application/json") else body)
