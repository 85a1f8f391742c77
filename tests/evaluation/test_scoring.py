"""Scoring results folders: the published numbers, the JSON shape, missing sequences, the CLI and plots."""
import json

import numpy as np
import pytest

from mixformerv2.cli import main
from mixformerv2.datasets import open_dataset
from mixformerv2.evaluation.results import MissingResultsError
from mixformerv2.evaluation.scoring import score_results

from conftest import shared_path
from datasets.layouts import boxes_text, make_lasot, moving_boxes

PUBLISHED_LASOT = {"ATOM": (0.514, 0.505), "Ocean-online": (0.560, 0.566)}
PUBLISHED_OTB = {"SiamBAN": (0.696, 0.910), "MDNet": (0.678, 0.909), "ATOM": (0.667, 0.879)}


def test_lasot_published_numbers(tmp_path, capsys):
    root = shared_path("data", "lasot")
    results = [str(root / "results" / t) for t in PUBLISHED_LASOT]
    out = tmp_path / "lasot.json"
    argv = ["score", "--dataset", "lasot", "--root", str(root), "--json", str(out)]
    for r in results:
        argv += ["--results", r]
    assert main(argv) == 0
    report = json.loads(out.read_text())
    assert set(report) == {"dataset", "trackers"} and report["dataset"] == "lasot"
    for name, (auc, precision) in PUBLISHED_LASOT.items():
        entry = report["trackers"][name]
        assert set(entry) == {"auc", "precision", "norm_precision", "op50", "op75", "sequences"}
        assert round(entry["auc"], 3) == auc and round(entry["precision"], 3) == precision
        assert entry["sequences"] == 280 and 0 < entry["norm_precision"] < 1
    assert "ATOM              0.514" in capsys.readouterr().out


def test_otb100_published_numbers_with_lenient_names():
    root = shared_path("data", "otb100")
    dataset = open_dataset("otb100", root)
    report = score_results(dataset, [root / "results" / t for t in PUBLISHED_OTB])
    for name, (auc, precision) in PUBLISHED_OTB.items():
        scores = report.trackers[name].overall
        assert (round(scores.auc, 3), round(scores.precision, 3)) == (auc, precision), name
        assert scores.sequences == 100
    # MDNet's files for board and twinnings are one box short: scored as failures (pytracking), reported
    assert report.trackers["MDNet"].padded == {"board": 1, "twinnings": 1}


def _lasot_results(tmp_path, names, shift=0.0):
    folder = tmp_path / "results" / "MyTracker"
    folder.mkdir(parents=True)
    for name in names:
        n = {"cat-1": 6, "cat-2": 5, "dog-3": 4}[name]
        boxes = np.asarray(moving_boxes(n), dtype=float)
        boxes[1:, 0] += shift
        (folder / f"{name.upper().replace('-', '_')}.txt").write_text(boxes_text(boxes))  # lenient names
    return folder


def test_missing_sequences_are_listed_unless_partial(tmp_path, capsys):
    root = make_lasot(tmp_path / "LaSOT", frames=False)
    folder = _lasot_results(tmp_path, ["cat-1", "dog-3"])
    argv = ["score", "--dataset", "lasot", "--root", str(root), "--results", str(folder)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "mixformerv2 score: error:" in err and "lacks 1 of 3 sequences: cat-2" in err and "--partial" in err
    assert main(argv + ["--partial", "--json", str(tmp_path / "s.json")]) == 0
    entry = json.loads((tmp_path / "s.json").read_text())["trackers"]["MyTracker"]
    assert entry["sequences"] == 2
    # perfect boxes; cat-1 has 2 absent frames of 6: success 4/6 there, 1.0 on dog-3
    assert entry["op50"] == pytest.approx((4 / 6 + 1) / 2, abs=1e-6)


def test_attribute_breakdown_and_details(tmp_path):
    annos = tmp_path / "toolkit" / "annos"
    (annos / "absent").mkdir(parents=True)
    (annos / "att").mkdir()
    for name, att in [("a-1", "1,0,0,0,0,0,0,0,0,0,0,0,0,0"), ("b-1", "1,1,0,0,0,0,0,0,0,0,0,0,0,0")]:
        (annos / f"{name}.txt").write_text(boxes_text(moving_boxes(4)))
        (annos / "absent" / f"{name}.txt").write_text("0\n0\n0\n0\n")
        (annos / "att" / f"{name}.txt").write_text(att + "\n")
    res = tmp_path / "res"
    res.mkdir()
    (res / "a-1.txt").write_text(boxes_text(moving_boxes(4)))
    (res / "b-1.txt").write_text(boxes_text([[0, 0, 1, 1]] * 4))   # only frame 1 (replaced by gt) right
    report = score_results(open_dataset("lasot", tmp_path / "toolkit"), [res])
    t = report.trackers["res"]
    assert t.per_attribute["IV"].sequences == 2 and t.per_attribute["POC"].sequences == 1
    assert t.per_attribute["POC"].op50 == pytest.approx(0.25)
    details = report.to_json(details=True)
    assert details["convention"] == "lasot"
    assert details["trackers"]["res"]["attributes"]["POC"]["sequences"] == 1
    assert details["trackers"]["res"]["per_sequence"]["a-1"]["auc"] == pytest.approx(20 / 21, abs=1e-6)
    text = report.format_text()
    assert "POC Partial Occlusion" in text


def test_corrupt_result_line_names_file_and_line(tmp_path, capsys):
    root = make_lasot(tmp_path / "LaSOT", frames=False)
    folder = _lasot_results(tmp_path, ["cat-1", "cat-2", "dog-3"])
    bad = folder / "CAT_2.txt"
    bad.write_text(bad.read_text().replace("18,15", "18;;oops", 1))
    assert main(["score", "--dataset", "lasot", "--root", str(root), "--results", str(folder)]) == 2
    assert "CAT_2.txt:2: expected 4 numbers" in capsys.readouterr().err


def test_plots_of_several_trackers(tmp_path):
    root = make_lasot(tmp_path / "LaSOT", frames=False)
    a = _lasot_results(tmp_path / "a", ["cat-1", "cat-2", "dog-3"])
    b = _lasot_results(tmp_path / "b", ["cat-1", "cat-2", "dog-3"], shift=3.0)
    png, pdf = tmp_path / "plots" / "lasot.png", tmp_path / "lasot.pdf"
    assert main(["score", "--dataset", "lasot", "--root", str(root), "--results", str(a), "--results", str(b),
                 "--name", "A", "--name", "B", "--plot", str(png), "--plot", str(pdf)]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and pdf.read_bytes()[:5] == b"%PDF-"


def test_results_and_names_as_one_list_or_repeated(tmp_path, capsys):
    """`--results A B` (what a user types) and `--results A --results B` name the same trackers."""
    root = make_lasot(tmp_path / "LaSOT", frames=False)
    a = _lasot_results(tmp_path / "a", ["cat-1", "cat-2", "dog-3"])
    b = _lasot_results(tmp_path / "b", ["cat-1", "cat-2", "dog-3"], shift=3.0)
    outs = []
    for extra in (["--results", str(a), str(b), "--name", "A", "B"],
                  ["--results", str(a), "--results", str(b), "--name", "A", "--name", "B"]):
        assert main(["score", "--dataset", "lasot", "--root", str(root), "--no-attributes"] + extra) == 0
        outs.append(capsys.readouterr().out)
    assert outs[0] == outs[1]
    assert any(line.startswith("A ") for line in outs[0].splitlines())
    assert any(line.startswith("B ") for line in outs[0].splitlines())


def test_got10k_val_scoring_pools(tmp_path):
    val = tmp_path / "val"
    res = tmp_path / "results" / "T"
    for i, (pred, cover) in enumerate([([[0, 0, 10, 10], [0, 0, 10, 5], [0, 0, 10, 10]], [8, 8, 0]),
                                       ([[0, 0, 10, 10]] * 2 + [[0, 0, 5, 5]] + [[0, 0, 10, 10]] * 2,
                                        [8, 1, 2, 3, 4])]):
        name = f"GOT-10k_Val_{i + 1:06d}"
        (val / name).mkdir(parents=True)
        (val / name / "groundtruth.txt").write_text(boxes_text([[0, 0, 10, 10]] * len(pred)))
        (val / name / "cover.label").write_text("".join(f"{c}\n" for c in cover))
        (val / name / "meta_info.ini").write_text("resolution: (100, 100)\n")
        (res / name).mkdir(parents=True)
        (res / name / f"{name}_001.txt").write_text(boxes_text(pred))
    report = score_results(open_dataset("got10k", val), [res])
    s = report.trackers["T"].overall
    assert (s.auc, s.op50, s.op75) == (pytest.approx(0.75), pytest.approx(0.6), pytest.approx(0.6))
    assert report.to_json()["trackers"]["T"]["precision"] is None
    assert "AO" in report.format_text()


def test_uav123_report_names_its_nan_convention(tmp_path, capsys):
    root = tmp_path / "UAV123"
    (root / "anno" / "UAV123").mkdir(parents=True)
    (root / "anno" / "UAV123" / "car1.txt").write_text("0,0,10,10\nNaN,NaN,NaN,NaN\n0,0,10,10\n0,0,10,10\n")
    res = tmp_path / "res"
    res.mkdir()
    (res / "car1.txt").write_text("0,0,10,10\n" * 4)
    base = ["score", "--dataset", "uav123", "--root", str(root), "--results", str(res), "--json"]
    assert main(base + [str(tmp_path / "a.json")]) == 0
    assert "convention 'uav-pytracking'" in capsys.readouterr().out
    a = json.loads((tmp_path / "a.json").read_text())["trackers"]["res"]
    assert a["op50"] == pytest.approx(0.75) and a["precision"] == 1.0
    assert main(base + [str(tmp_path / "b.json"), "--convention", "uav-got10k"]) == 0
    b = json.loads((tmp_path / "b.json").read_text())["trackers"]["res"]
    assert b["op50"] == 1.0 and b["precision"] == 1.0


def test_test_split_without_ground_truth_points_to_the_server(tmp_path, capsys):
    root = tmp_path / "TrackingNet"
    (root / "TEST" / "anno").mkdir(parents=True)
    (root / "TEST" / "anno" / "s.txt").write_text("1,2,3,4\n")
    (root / "TEST" / "frames" / "s").mkdir(parents=True)
    for i in range(3):
        (root / "TEST" / "frames" / "s" / f"{i}.jpg").write_bytes(b"")
    res = tmp_path / "res"
    res.mkdir()
    (res / "s.txt").write_text("1,2,3,4\n" * 3)
    assert main(["score", "--dataset", "trackingnet", "--root", str(root), "--results", str(res)]) == 2
    assert "first frame only" in capsys.readouterr().err
