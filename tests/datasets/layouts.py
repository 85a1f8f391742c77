"""Small datasets written in each benchmark's native layout, for reader, scoring and runner tests."""
from pathlib import Path

import cv2
import numpy as np


def photo(index: int = 0, size=(64, 48)) -> np.ndarray:
    """A small RGB uint8 image cut from one of scikit-image's bundled photos."""
    from skimage import data

    source = [data.astronaut, data.chelsea, data.coffee, data.rocket][index % 4]()
    return cv2.resize(np.ascontiguousarray(source[:, :, :3]), size, interpolation=cv2.INTER_AREA)


def write_frames(folder: Path, count: int, name=lambda i: f"{i + 1:08d}.jpg", size=(64, 48), shift=2):
    """Frames of a photo panning right by ``shift`` px per frame."""
    folder.mkdir(parents=True, exist_ok=True)
    base = photo(0, (size[0] + shift * count, size[1]))
    for i in range(count):
        crop = base[:, i * shift:i * shift + size[0]]
        cv2.imwrite(str(folder / name(i)), cv2.cvtColor(crop, cv2.COLOR_RGB2BGR))


def boxes_text(boxes, sep=","):
    return "".join(sep.join(f"{v:g}" for v in row) + "\n" for row in boxes)


def moving_boxes(n, start=(20, 15, 16, 12), step=(-2, 0)):
    return [[start[0] + step[0] * i, start[1] + step[1] * i, start[2], start[3]] for i in range(n)]


def make_lasot(root: Path, sequences=(("cat-1", 6), ("cat-2", 5), ("dog-3", 4)), frames=True, test_list=None):
    """LaSOT class-folder layout; frame 3 of cat-1 is fully occluded, frame 4 out of view."""
    for name, n in sequences:
        folder = root / name.split("-")[0] / name
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "groundtruth.txt").write_text(boxes_text(moving_boxes(n)))
        occl = [0] * n
        oov = [0] * n
        if name == "cat-1":
            occl[2] = 1
            oov[3] = 1
        (folder / "full_occlusion.txt").write_text(",".join(map(str, occl)) + "\n")
        (folder / "out_of_view.txt").write_text(",".join(map(str, oov)) + "\n")
        (folder / "nlp.txt").write_text(f"the {name.split('-')[0]} in the middle\n")
        if frames:
            write_frames(folder / "img", n)
    if test_list is not None:
        (root / "testing_set.txt").write_text("\n".join(test_list) + "\n")
    return root
