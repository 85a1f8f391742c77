"""The app's HTTP API: uploads, checks with messages for the page, jobs through the tracking loop, isolation."""
from __future__ import annotations

import io
import time
import zipfile

import cv2
import numpy as np
import pytest

from mixformerv2.app.clips import UploadError, check_boxes, unpack_frames

from .conftest import call, start_app


def wait_for(server, job_id: str, timeout: float = 120.0) -> dict:
    deadline = time.time() + timeout
    while time.time() < deadline:
        status, job = call(server, f"/api/jobs/{job_id}")
        assert status == 200, job
        if job["state"] in ("done", "failed"):
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} did not finish in {timeout} s")


def moving_square_video(path, frames: int = 12, size=(160, 120), start=(40, 30)) -> list:
    """A small video of a bright square moving right on a textured background; its true boxes (x, y, w, h)."""
    rng = np.random.default_rng(0)
    background = rng.integers(0, 80, (size[1], size[0], 3), dtype=np.uint8)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, size)
    boxes = []
    for i in range(frames):
        frame = background.copy()
        x, y = start[0] + 2 * i, start[1]
        frame[y:y + 24, x:x + 24] = (40, 200, 240)
        writer.write(frame)
        boxes.append([x, y, 24, 24])
    writer.release()
    return boxes


def frames_zip(frames: int = 8, nested: str = "seq/img/") -> bytes:
    rng = np.random.default_rng(1)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("seq/groundtruth.txt", "1,2,3,4\n")
        zf.writestr("seq/other/only.jpg", cv2.imencode(".jpg", np.zeros((10, 10, 3), np.uint8))[1].tobytes())
        for i in range(frames):
            image = rng.integers(0, 255, (72, 96, 3), dtype=np.uint8)
            zf.writestr(f"{nested}{i + 1:04d}.png", cv2.imencode(".png", image)[1].tobytes())
    return buffer.getvalue()


def test_info_lists_models_backends_and_limits(app):
    status, info = call(app, "/api/info")
    assert status == 200
    values = [m["value"] for m in info["models"]]
    assert "mixformerv2-s" in values and "checkpoint" in values
    assert info["backends"][0] == "auto" and "torch" in info["backends"]
    assert info["max_upload_mb"] == 500.0


def test_page_and_its_assets_are_served_from_the_package(app):
    status, page = call(app, "/")
    assert status == 200 and b"<title>MixFormerV2 tracker</title>" in page
    for asset in (b'src="/app.js"', b'href="/app.css"'):
        assert asset in page
    # Nothing in the page points at another host (it works offline).
    for name in ("/", "/app.js", "/app.css"):
        body = call(app, name)[1].decode()
        assert "http://" not in body and "https://" not in body and "//cdn" not in body


def test_uploaded_video_is_tracked_with_one_boxes_line_per_frame(app, tmp_path):
    video = tmp_path / "clip.avi"
    truth = moving_square_video(video)
    status, clip = call(app, "/api/upload?kind=clip&name=my%20clip.avi", data=video.read_bytes(), method="POST")
    assert status == 200, clip
    assert (clip["frames"], clip["width"], clip["height"]) == (12, 160, 120)
    status, jpeg = call(app, clip["first_frame"])
    assert status == 200 and jpeg[:2] == b"\xff\xd8"
    gt_text = "".join(",".join(map(str, b)) + "\n" for b in truth).encode()
    status, gt = call(app, "/api/upload?kind=groundtruth&name=gt.txt", data=gt_text, method="POST")
    assert status == 200 and gt["rows"] == 12
    status, job = call(app, "/api/track", json_body={"clip": clip["clip"], "boxes": [truth[0]], "backend": "torch",
                                                     "groundtruth": gt["upload"]})
    assert status == 200, job
    job = wait_for(app, job["job"])
    assert job["state"] == "done", job["message"]
    result = job["result"]
    assert result["frames"] == 12 and result["backend"] == "torch" and "auc" in result
    status, boxes = call(app, result["boxes"][0]["url"])
    lines = boxes.decode().splitlines()
    assert len(lines) == 12 and lines[0] == "40,30,24,24"
    status, video_bytes = call(app, result["video"])
    assert status == 200 and video_bytes[:4] == b"\x1a\x45\xdf\xa3"      # a WebM (Matroska) file
    status, part = call(app, result["video"], headers={"Range": "bytes=0-99"})
    assert status == 206 and len(part) == 100
    status, png = call(app, result["plot"])
    assert status == 200 and png[:8] == b"\x89PNG\r\n\x1a\n"


def test_zip_of_frames_is_a_clip(app):
    status, clip = call(app, "/api/upload?kind=clip&name=frames.zip", data=frames_zip(), method="POST")
    assert status == 200, clip
    assert (clip["frames"], clip["width"], clip["height"]) == (8, 96, 72)     # the folder with the most images


def test_zip_members_cannot_escape_the_clip_folder(tmp_path):
    buffer = io.BytesIO()
    image = cv2.imencode(".png", np.zeros((8, 8, 3), np.uint8))[1].tobytes()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("../../evil.png", image)
        zf.writestr("/abs/evil2.png", image)
    archive = tmp_path / "a.zip"
    archive.write_bytes(buffer.getvalue())
    out = unpack_frames(archive, tmp_path / "deep" / "frames", 10 ** 6, "a.zip")
    assert not (tmp_path / "evil.png").exists()
    assert sorted(p.name for p in out.iterdir()) in (["evil.png"], ["evil2.png"])


@pytest.mark.parametrize("name, body, message", [
    ("notes.mp4", b"this is not a video\n" * 10, "is not a video that can be read"),
    ("photo.png", cv2.imencode(".png", np.zeros((8, 8, 3), np.uint8))[1].tobytes(), "a single image"),
    ("broken.zip", b"PK\x03\x04 broken", "is not a valid zip file"),
    ("empty.mp4", b"", "is empty"),
])
def test_bad_clip_uploads_get_a_message(app, name, body, message):
    status, answer = call(app, f"/api/upload?kind=clip&name={name}", data=body, method="POST")
    assert status == 400 and message in answer["error"], answer
    assert "Traceback" not in answer["error"]


def test_too_large_upload_is_refused_before_it_is_read(tmp_path):
    server, thread = start_app(tmp_path, max_upload_mb=0.001)
    try:
        status, answer = call(server, "/api/upload?kind=clip&name=big.mp4", data=b"x" * 5000, method="POST")
        assert status == 413 and "up to 0.001 MB" in answer["error"]
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.close()


def test_requests_with_bad_boxes_models_or_ids_get_messages(app, tmp_path):
    video = tmp_path / "clip.avi"
    moving_square_video(video)
    clip = call(app, "/api/upload?kind=clip&name=clip.avi", data=video.read_bytes(), method="POST")[1]
    cases = [
        ({"clip": clip["clip"], "boxes": [[150, 10, 30, 30]]}, "reaches outside the 160x120 frame"),
        ({"clip": clip["clip"], "boxes": []}, "set at least one box"),
        ({"clip": clip["clip"], "boxes": [[1, 2, 3]]}, "four finite numbers"),
        ({"clip": "0" * 32, "boxes": [[1, 2, 30, 30]]}, "unknown clip"),
        ({"clip": clip["clip"], "boxes": [[1, 2, 30, 30]], "model": "mixformerv2-b"}, "choose a checkpoint file"),
        ({"clip": clip["clip"], "boxes": [[1, 2, 30, 30]], "model": "checkpoint"}, "choose a checkpoint file"),
        ({"clip": clip["clip"], "boxes": [[1, 2, 30, 30]], "backend": "tpu"}, "unknown backend"),
        ({"clip": clip["clip"], "boxes": [[1, 2, 30, 30]], "weights": "f" * 32, "model": "checkpoint"},
         "unknown weights upload"),
    ]
    for request, message in cases:
        status, answer = call(app, "/api/track", json_body=request)
        assert status == 400 and message in answer["error"], (request, answer)
    status, answer = call(app, "/api/track", data=b"{not json", method="POST")
    assert status == 400 and "not valid JSON" in answer["error"]
    status, answer = call(app, "/api/upload?kind=weights&name=model.txt", data=b"x", method="POST")
    assert status == 400 and "is not a checkpoint" in answer["error"]
    status, answer = call(app, "/api/upload?kind=groundtruth&name=gt.txt", data=b"1,2,3,4\n", method="POST")
    status, answer = call(app, "/api/track", json_body={"clip": clip["clip"], "boxes": [[1, 2, 30, 30]],
                                                        "groundtruth": answer["upload"]})
    assert status == 400 and "has 1 lines but the clip 12 frames" in answer["error"]


def test_a_corrupt_checkpoint_fails_the_job_with_a_message(app, tmp_path):
    video = tmp_path / "clip.avi"
    moving_square_video(video)
    clip = call(app, "/api/upload?kind=clip&name=clip.avi", data=video.read_bytes(), method="POST")[1]
    weights = call(app, "/api/upload?kind=weights&name=model.pth", data=b"not a checkpoint" * 10, method="POST")[1]
    status, job = call(app, "/api/track", json_body={"clip": clip["clip"], "boxes": [[40, 30, 24, 24]],
                                                     "model": "checkpoint", "weights": weights["upload"]})
    assert status == 200
    job = wait_for(app, job["job"])
    assert job["state"] == "failed" and "model.pth" in job["message"] and "internal error" not in job["message"]


def test_two_users_tracking_at_once_get_their_own_results(tmp_path):
    server, thread = start_app(tmp_path, workers=2)
    try:
        jobs = []
        for i, start in enumerate([(20, 30), (90, 60)]):
            video = tmp_path / f"clip{i}.avi"
            truth = moving_square_video(video, start=start)
            clip = call(server, "/api/upload?kind=clip&name=c.avi", data=video.read_bytes(), method="POST")[1]
            jobs.append((truth, call(server, "/api/track", json_body={"clip": clip["clip"], "boxes": [truth[0]]})[1]))
        assert jobs[0][1]["job"] != jobs[1][1]["job"]
        for truth, job in jobs:
            done = wait_for(server, job["job"])
            assert done["state"] == "done", done["message"]
            lines = call(server, done["result"]["boxes"][0]["url"])[1].decode().splitlines()
            assert lines[0] == ",".join(map(str, truth[0])) and len(lines) == 12
            # Tracked near its own square, never the other user's.
            last = [float(v) for v in lines[-1].split(",")]
            assert abs(last[0] - truth[-1][0]) < 20 and abs(last[1] - truth[-1][1]) < 20
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.close()


def test_unknown_files_and_paths_are_404(app):
    assert call(app, "/api/jobs/" + "0" * 32)[0] == 400
    assert call(app, "/nothing")[0] == 404
    assert call(app, "/api/clips/../../etc/passwd/first.jpg")[0] == 404


def test_check_boxes_names_the_bad_box():
    assert check_boxes([[0, 0, 10, 10], [5.5, 6, 20, 30]], 100, 80) == [[0, 0, 10, 10], [5.5, 6, 20, 30]]
    with pytest.raises(UploadError, match="box 2 .* too small"):
        check_boxes([[0, 0, 10, 10], [5, 5, 1, 10]], 100, 80)
    with pytest.raises(UploadError, match="box 1 .* outside the 100x80 frame"):
        check_boxes([[-5, 0, 10, 10]], 100, 80)
    with pytest.raises(UploadError, match="finite"):
        check_boxes([[float("nan"), 0, 10, 10]], 100, 80)


def test_a_job_can_be_stopped_and_keeps_the_frames_tracked(app, tmp_path):
    video = tmp_path / "long.avi"
    truth = moving_square_video(video, frames=60)
    clip = call(app, "/api/upload?kind=clip&name=long.avi", data=video.read_bytes(), method="POST")[1]
    first = call(app, "/api/track", json_body={"clip": clip["clip"], "boxes": [truth[0]]})[1]
    second = call(app, "/api/track", json_body={"clip": clip["clip"], "boxes": [truth[0]]})[1]
    assert call(app, f"/api/jobs/{second['job']}/stop", data=b"", method="POST")[0] == 200   # still queued
    deadline = time.time() + 60
    while call(app, f"/api/jobs/{first['job']}")[1]["done"] < 3 and time.time() < deadline:
        time.sleep(0.02)
    call(app, f"/api/jobs/{first['job']}/stop", data=b"", method="POST")
    done = wait_for(app, first["job"])
    if done["result"]["frames"] < 60:            # it had not finished before the stop arrived
        assert done["result"]["notice"].startswith(f"stopped after {done['result']['frames']} of 60 frames")
    lines = call(app, done["result"]["boxes"][0]["url"])[1].decode().splitlines()
    assert len(lines) == done["result"]["frames"]
    stopped = wait_for(app, second["job"])
    assert stopped["state"] == "failed" and "stopped before it started" in stopped["message"]


@pytest.mark.parametrize("name", ["tiny.safetensors", "tiny.pth"])
def test_an_uploaded_checkpoint_tracks_with_its_stored_config(app, tmp_path, name):
    import torch

    from mixformerv2 import build_model, save_checkpoint

    tiny = dict(embed_dim=64, depth=2, num_heads=4, mlp_ratio=1, template_size=32, search_size=64, num_bins=16)
    torch.manual_seed(0)
    save_checkpoint(build_model(tiny).eval(), tmp_path / name)
    video = tmp_path / "clip.avi"
    truth = moving_square_video(video, frames=6)
    clip = call(app, "/api/upload?kind=clip&name=clip.avi", data=video.read_bytes(), method="POST")[1]
    weights = call(app, f"/api/upload?kind=weights&name={name}", data=(tmp_path / name).read_bytes(), method="POST")[1]
    status, job = call(app, "/api/track", json_body={"clip": clip["clip"], "boxes": [truth[0]], "model": "checkpoint",
                                                     "weights": weights["upload"]})
    assert status == 200, job
    done = wait_for(app, job["job"])
    assert done["state"] == "done", done["message"]
    assert done["result"]["model"] == f"stored config + {name}" and done["result"]["frames"] == 6
