"""Server zips for GOT-10k and TrackingNet test results."""
import zipfile

import pytest

from mixformerv2.datasets import open_dataset
from mixformerv2.evaluation.results import MissingResultsError
from mixformerv2.evaluation.submission import SubmissionError, package_submission

from datasets.layouts import boxes_text, moving_boxes, write_frames


def _got10k_test(tmp_path, lengths=(3, 2)):
    test = tmp_path / "GOT10k" / "test"
    names = []
    for i, n in enumerate(lengths, start=1):
        name = f"GOT-10k_Test_{i:06d}"
        write_frames(test / name, n)
        (test / name / "groundtruth.txt").write_text(boxes_text(moving_boxes(1)))
        names.append(name)
    (test / "list.txt").write_text("\n".join(names) + "\n")
    return open_dataset("got10k", tmp_path / "GOT10k", "test"), names


def test_got10k_zip_layout(tmp_path):
    dataset, names = _got10k_test(tmp_path)
    results = tmp_path / "results"
    for name, n in zip(names, (3, 2)):
        (results / name).mkdir(parents=True)
        (results / name / f"{name}_001.txt").write_text(boxes_text(moving_boxes(n)))
        (results / name / f"{name}_time.txt").write_text("0.01\n" * n)
    out = package_submission(dataset, results, tmp_path / "sub.zip")
    with zipfile.ZipFile(out) as z:
        assert sorted(z.namelist()) == sorted(f"{n}/{n}_{k}.txt" for n in names for k in ("001", "time"))
        assert z.read(f"{names[1]}/{names[1]}_001.txt").decode().count("\n") == 2


def test_got10k_zip_refuses_incomplete_results(tmp_path):
    dataset, names = _got10k_test(tmp_path)
    results = tmp_path / "results"
    (results / names[0]).mkdir(parents=True)
    (results / names[0] / f"{names[0]}_001.txt").write_text(boxes_text(moving_boxes(2)))  # one box short
    with pytest.raises(MissingResultsError, match=names[1]):
        package_submission(dataset, results, tmp_path / "sub.zip")
    (results / names[1]).mkdir()
    (results / names[1] / f"{names[1]}_001.txt").write_text(boxes_text(moving_boxes(2)))
    with pytest.raises(SubmissionError, match=r"2 boxes for 3 frames.*no GOT-10k_Test_000001_time.txt"):
        package_submission(dataset, results, tmp_path / "sub.zip")
    assert not (tmp_path / "sub.zip").exists()


def test_trackingnet_zip_is_flat(tmp_path):
    root = tmp_path / "TrackingNet"
    for s in ("seqA", "seqB"):
        write_frames(root / "TEST" / "frames" / s, 2, name=lambda i: f"{i}.jpg")
        (root / "TEST" / "anno").mkdir(parents=True, exist_ok=True)
        (root / "TEST" / "anno" / f"{s}.txt").write_text(boxes_text(moving_boxes(1)))
    results = tmp_path / "res"
    results.mkdir()
    for s in ("seqA", "seqB"):
        (results / f"{s}.txt").write_text(boxes_text(moving_boxes(2)))
        (results / f"{s}_time.txt").write_text("0.01\n0.01\n")
    out = package_submission(open_dataset("trackingnet", root), results, tmp_path / "tn.zip")
    with zipfile.ZipFile(out) as z:
        assert sorted(z.namelist()) == ["seqA.txt", "seqB.txt"]
