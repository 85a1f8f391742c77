"""The app's web server: the page (``static/``) and a small JSON API, on Python's standard library.

API (every error is JSON ``{"error": message}`` with a 4xx status, and a message the page shows):
- ``GET /api/info``: the models, backends and limits the page offers;
- ``POST /api/sample``: the sample clip; ``POST /api/upload?kind=clip|weights|groundtruth&name=NAME`` with the
  file as the request body: a clip (video or zip of frames), a checkpoint, or a ground-truth file;
- ``GET /api/clips/ID/first.jpg``: a clip's first frame;
- ``POST /api/track`` with ``{"clip", "boxes": [[x, y, w, h], ...], "model", "weights", "backend",
  "groundtruth"}``: starts a job; ``GET /api/jobs/ID``: its state and results; ``GET /api/jobs/ID/files/NAME``:
  its video, boxes files and plot; ``POST /api/jobs/ID/stop``: stops it (the frames tracked so far are kept).
Clips, uploads and jobs are named by random ids, so two users never see each other's results.
"""
from __future__ import annotations

import json
import logging
import mimetypes
import re
import shutil
import tempfile
import threading
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Dict, Optional, Tuple
from urllib.parse import parse_qs, urlparse

import numpy as np

from .clips import ClipStore, UploadError, check_boxes, new_id, read_groundtruth_upload
from .jobs import JobRunner, ModelChoice

log = logging.getLogger(__name__)

STATIC = Path(__file__).resolve().parent / "static"
STATIC_FILES = {"/": "index.html", "/index.html": "index.html", "/app.js": "app.js", "/app.css": "app.css"}
CONTENT_TYPES = {".webm": "video/webm", ".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
                 ".html": "text/html; charset=utf-8", ".txt": "text/plain; charset=utf-8"}
CHECKPOINT_SUFFIXES = (".pth", ".pt", ".tar", ".safetensors", ".bin", ".ckpt")
SERVER_MODEL = "started"          # the model option for what `mixformerv2 app --model/--weights` named
STORED_CONFIG = "checkpoint"      # the model option for a checkpoint's own stored config


@dataclass
class AppConfig:
    """Settings of a running app: the model it starts with (``model``/``weights``, as ``--model``/``--weights``
    take them; neither: the default model), the default ``backend``, ``threads`` (None: auto per job), upload
    size limit in megabytes, the most frames a job tracks, job ``workers``, and ``workdir`` (None: a temporary
    folder removed on exit)."""

    model: Optional[str] = None
    weights: Optional[Path] = None
    backend: str = "auto"
    threads: Optional[int] = None
    max_upload_mb: float = 500.0
    max_frames: int = 10000
    workers: int = 1
    workdir: Optional[Path] = None

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1e6)


class AppServer(ThreadingHTTPServer):
    """The HTTP server of one app; ``url`` is where it listens. ``close()`` stops the workers and removes a
    temporary work folder."""

    daemon_threads = True

    def __init__(self, host: str, port: int, config: AppConfig):
        super().__init__((host, port), AppRequestHandler)
        self.config = config
        self._tmp = None
        if config.workdir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="mixformerv2-app-")
            root = Path(self._tmp.name)
        else:
            root = Path(config.workdir)
            root.mkdir(parents=True, exist_ok=True)
        self.root = root
        for sub in ("clips", "uploads", "jobs"):
            (root / sub).mkdir(exist_ok=True)
        self.clips = ClipStore(root / "clips", config.max_upload_bytes)
        self.jobs = JobRunner(root / "jobs", workers=config.workers, threads=config.threads)
        # id -> (kind, path, the parsed ground truth for kind "groundtruth")
        self.uploads: Dict[str, Tuple[str, Path, Optional[np.ndarray]]] = {}
        self.upload_lock = threading.Lock()

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{'127.0.0.1' if host in ('0.0.0.0', '') else host}:{port}/"

    def close(self) -> None:
        self.jobs.close()
        self.server_close()
        if self._tmp is not None:
            self._tmp.cleanup()

    # ----------------------------------------------------------------------------------------- the API
    def info(self) -> Dict[str, object]:
        from ..model.config import PRESETS
        from ..model.hub import bundled_names, bundled_weights_path
        from ..tracking import available_backends

        models = []
        started = self.started_choice()
        if started is not None:
            models.append({"value": SERVER_MODEL, "label": f"{started.label()} (as started)",
                           "needs_checkpoint": False})
        for name in bundled_names():
            if bundled_weights_path(name).is_file():
                models.append({"value": name, "label": f"{name} (shipped with the package)", "needs_checkpoint": False})
        for name in sorted(PRESETS):
            models.append({"value": name, "label": f"preset {name} + a checkpoint", "needs_checkpoint": True})
        models.append({"value": STORED_CONFIG, "label": "a checkpoint with its stored config", "needs_checkpoint": True})
        return {"models": models, "backends": ["auto"] + available_backends(), "backend": self.config.backend,
                "max_upload_mb": self.config.max_upload_mb, "max_frames": self.config.max_frames,
                "checkpoint_suffixes": list(CHECKPOINT_SUFFIXES)}

    def started_choice(self) -> Optional[ModelChoice]:
        """What `mixformerv2 app --model/--weights` named, or None when neither was given (the default model)."""
        if self.config.model is None and self.config.weights is None:
            return None
        return ModelChoice(self.config.model, Path(self.config.weights) if self.config.weights else None)

    def store_upload(self, kind: str, name: str, body, length: int) -> Dict[str, object]:
        """Save a request body of ``length`` bytes as an upload of ``kind`` and check it."""
        if kind not in ("clip", "weights", "groundtruth"):
            raise UploadError(f"unknown upload kind {kind!r} (clip, weights or groundtruth)")
        limit = self.config.max_upload_bytes
        if length > limit:
            raise UploadTooLarge(f"{name} is {length / 1e6:.1f} MB; this app accepts files up to "
                                 f"{self.config.max_upload_mb:g} MB (start it with --max-upload-mb to change that)")
        if length <= 0:
            raise UploadError(f"{name} is empty")
        upload_id = new_id()
        folder = self.root / "uploads" / upload_id
        folder.mkdir(parents=True)
        safe = re.sub(r"[^A-Za-z0-9._-]", "_", Path(name.replace("\\", "/")).name)[-100:].lstrip(".") or "upload"
        path = folder / safe
        remaining = length
        with open(path, "wb") as out:
            while remaining > 0:
                chunk = body.read(min(remaining, 1 << 20))
                if not chunk:
                    raise UploadError(f"the upload of {name} stopped after {length - remaining} of {length} bytes")
                out.write(chunk)
                remaining -= len(chunk)
        try:
            if kind == "clip":
                clip = self.clips.add_upload(path, name)
                shutil.rmtree(folder, ignore_errors=True)
                return clip.describe()
            if kind == "weights":
                if not name.lower().endswith(CHECKPOINT_SUFFIXES):
                    raise UploadError(f"{name} is not a checkpoint: give a {', '.join(CHECKPOINT_SUFFIXES)} file")
                boxes = None
                result: Dict[str, object] = {"upload": upload_id, "name": name}
            else:
                boxes = read_groundtruth_upload(path, name)
                result = {"upload": upload_id, "name": name, "rows": len(boxes)}
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        with self.upload_lock:
            self.uploads[upload_id] = (kind, path, boxes)
        return result

    def upload(self, upload_id: Optional[str], kind: str) -> Optional[Tuple[Path, Optional[np.ndarray]]]:
        """(path, parsed ground truth or None) of upload ``upload_id`` of ``kind``; None when no id is given."""
        if not upload_id:
            return None
        with self.upload_lock:
            entry = self.uploads.get(str(upload_id))
        if entry is None or entry[0] != kind:
            raise UploadError(f"unknown {kind} upload (the app was restarted?): upload the file again")
        return entry[1], entry[2]

    def start_job(self, request: Dict[str, object]) -> Dict[str, object]:
        from ..model.hub import WeightsRequiredError, resolve_weights
        from ..tracking import available_backends

        clip = self.clips.get(str(request.get("clip", "")))
        boxes = check_boxes(request.get("boxes") or [], clip.width, clip.height)
        backend = str(request.get("backend") or self.config.backend)
        if backend not in ["auto"] + available_backends():
            raise UploadError(f"unknown backend {backend!r}")
        started = self.started_choice()
        model = str(request.get("model") or (SERVER_MODEL if started is not None else "default"))
        weights_upload = self.upload(request.get("weights"), "weights")
        weights = weights_upload[0] if weights_upload is not None else None
        if model == SERVER_MODEL:
            if started is None:
                raise UploadError("the app was started without --model/--weights: choose another model")
            if weights is not None:
                raise UploadError("the model the app was started with has its own weights: choose a preset or "
                                  "'a checkpoint with its stored config' to use the uploaded checkpoint")
            choice = started
        elif model == STORED_CONFIG:
            if weights is None:
                raise UploadError("choose a checkpoint file to track with its stored config")
            choice = ModelChoice(None, weights)
        else:
            choice = ModelChoice(model, weights)
            try:
                resolve_weights(model, weights)
            except WeightsRequiredError:
                raise UploadError(f"the preset {model} has no weights shipped with the package: choose a "
                                  f"checkpoint file") from None
            except ValueError as exc:
                raise UploadError(str(exc)) from None
        groundtruth = clip.groundtruth
        truth_upload = self.upload(request.get("groundtruth"), "groundtruth")
        if truth_upload is not None:
            groundtruth = truth_upload[1]
            if len(groundtruth) != clip.num_frames:
                raise UploadError(f"the ground truth has {len(groundtruth)} lines but the clip {clip.num_frames} "
                                  f"frames: give one x,y,w,h line per frame")
        job = self.jobs.submit(clip, boxes, choice, backend, groundtruth, self.config.max_frames)
        return self.jobs.describe(job.id)


class UploadTooLarge(UploadError):
    """An upload over the app's size limit (HTTP 413)."""


class AppRequestHandler(BaseHTTPRequestHandler):
    server: AppServer
    protocol_version = "HTTP/1.1"
    server_version = "mixformerv2-app"

    def log_message(self, format: str, *args) -> None:      # noqa: A002 - the base class's name
        log.debug("%s %s", self.address_string(), format % args)

    # ------------------------------------------------------------------------------------------ routing
    def do_GET(self) -> None:        # noqa: N802 - the base class's name
        self._dispatch("GET")

    def do_HEAD(self) -> None:       # noqa: N802
        self._dispatch("HEAD")

    def do_POST(self) -> None:       # noqa: N802
        self._dispatch("POST")

    def _dispatch(self, method: str) -> None:
        url = urlparse(self.path)
        path = url.path
        try:
            if method in ("GET", "HEAD"):
                if path in STATIC_FILES:
                    return self._send_file(STATIC / STATIC_FILES[path], method)
                if path == "/api/info":
                    return self._send_json(self.server.info())
                match = re.fullmatch(r"/api/clips/([0-9a-f]{32}|sample)/first\.jpg", path)
                if match:
                    return self._send_file(self.server.clips.get(match.group(1)).folder / "first.jpg", method)
                match = re.fullmatch(r"/api/jobs/([0-9a-f]{32})", path)
                if match:
                    return self._send_json(self.server.jobs.describe(match.group(1)))
                match = re.fullmatch(r"/api/jobs/([0-9a-f]{32})/files/([A-Za-z0-9_.-]+)", path)
                if match:
                    job = self.server.jobs.get(match.group(1))
                    file = job.files.get(match.group(2))
                    if file is None:
                        return self._send_error(HTTPStatus.NOT_FOUND, f"no file {match.group(2)} in this job")
                    return self._send_file(file, method, download=file.suffix == ".txt")
                return self._send_error(HTTPStatus.NOT_FOUND, f"no page {path}")
            if method == "POST":
                if path == "/api/sample":
                    self._discard_body()
                    return self._send_json(self.server.clips.sample().describe())
                if path == "/api/upload":
                    query = parse_qs(url.query)
                    kind = query.get("kind", ["clip"])[0]
                    name = query.get("name", ["upload"])[0]
                    length = self._content_length()
                    try:
                        return self._send_json(self.server.store_upload(kind, name, self.rfile, length))
                    except UploadTooLarge:
                        self.close_connection = True        # the body is not read
                        raise
                if path == "/api/track":
                    return self._send_json(self.server.start_job(self._read_json()))
                match = re.fullmatch(r"/api/jobs/([0-9a-f]{32})/stop", path)
                if match:
                    self._discard_body()
                    return self._send_json(self.server.jobs.cancel(match.group(1)))
                self._discard_body()
                return self._send_error(HTTPStatus.NOT_FOUND, f"no API {path}")
        except UploadTooLarge as exc:
            self._send_error(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, str(exc))
        except UploadError as exc:
            self._send_error(HTTPStatus.BAD_REQUEST, str(exc))
        except (BrokenPipeError, ConnectionResetError):
            pass
        except Exception as exc:      # noqa: BLE001 - the page gets a message, the log the trace
            log.exception("%s %s failed", method, path)
            self._send_error(HTTPStatus.INTERNAL_SERVER_ERROR,
                             f"internal error ({type(exc).__name__}: {exc}); see the app's log")

    # -------------------------------------------------------------------------------------------- bodies
    def _content_length(self) -> int:
        value = self.headers.get("Content-Length")
        if value is None:
            self.close_connection = True
            raise UploadError("the request has no Content-Length")
        try:
            return int(value)
        except ValueError:
            self.close_connection = True
            raise UploadError(f"bad Content-Length {value!r}") from None

    def _discard_body(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)

    def _read_json(self) -> Dict[str, object]:
        length = self._content_length()
        if length > 1 << 20:
            self.close_connection = True
            raise UploadTooLarge("the request is too large")
        try:
            data = json.loads(self.rfile.read(length) or b"{}")
        except (ValueError, UnicodeDecodeError):
            raise UploadError("the request is not valid JSON") from None
        if not isinstance(data, dict):
            raise UploadError("the request must be a JSON object")
        return data

    # ---------------------------------------------------------------------------------------- responses
    def _send_json(self, data: object, status: HTTPStatus = HTTPStatus.OK) -> None:
        body = json.dumps(data).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _send_error(self, status: HTTPStatus, message: str) -> None:
        self._send_json({"error": message}, status)

    def _send_file(self, path: Path, method: str, download: bool = False) -> None:
        """A file, with byte ranges (video elements seek with them)."""
        if not path.is_file():
            return self._send_error(HTTPStatus.NOT_FOUND, f"{path.name} does not exist (yet)")
        size = path.stat().st_size
        start, end = 0, size - 1
        status = HTTPStatus.OK
        match = re.fullmatch(r"bytes=(\d*)-(\d*)", self.headers.get("Range", "").strip())
        if match and size and (match.group(1) or match.group(2)):
            if match.group(1):
                start = int(match.group(1))
                end = min(int(match.group(2)), size - 1) if match.group(2) else size - 1
            else:
                start = max(0, size - int(match.group(2)))
            if start > end or start >= size:
                self.send_response(HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE)
                self.send_header("Content-Range", f"bytes */{size}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            status = HTTPStatus.PARTIAL_CONTENT
        kind = CONTENT_TYPES.get(path.suffix.lower(), mimetypes.guess_type(path.name)[0] or "application/octet-stream")
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(end - start + 1 if size else 0))
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Cache-Control", "no-store")
        if status == HTTPStatus.PARTIAL_CONTENT:
            self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        if download:
            self.send_header("Content-Disposition", f'attachment; filename="{path.name}"')
        self.end_headers()
        if method == "HEAD" or not size:
            return
        with open(path, "rb") as f:
            f.seek(start)
            remaining = end - start + 1
            while remaining > 0:
                chunk = f.read(min(remaining, 1 << 20))
                if not chunk:
                    break
                self.wfile.write(chunk)
                remaining -= len(chunk)


def serve(host: str = "127.0.0.1", port: int = 7860, config: Optional[AppConfig] = None,
          ready=None) -> None:
    """Serve the app until Ctrl-C (``ready(server)`` is called once it listens)."""
    server = AppServer(host, port, config or AppConfig())
    try:
        if ready is not None:
            ready(server)
        server.serve_forever(poll_interval=0.2)
    finally:
        server.close()
