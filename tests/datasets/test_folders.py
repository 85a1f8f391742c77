"""The ``sequences`` dataset: a folder of sequence folders, each in its own native layout (OTB or VOT)."""
import numpy as np
import pytest

from conftest import shared_path
from mixformerv2.datasets import DatasetLayoutError, open_dataset
from mixformerv2.evaluation.scoring import score_results

from .layouts import boxes_text, moving_boxes, write_frames


def make_mixed(root, with_attrs=True):
    """An OTB folder (tab-separated), an OTB folder with two targets (commas), a VOT folder (polygons,
    color/), a GOT-10k-like folder (frames beside groundtruth.txt) and a folder that is no sequence."""
    write_frames(root / "otb-Walk" / "img", 5, name=lambda i: f"{i + 1:04d}.jpg")
    (root / "otb-Walk" / "groundtruth_rect.txt").write_text(boxes_text(moving_boxes(5), "\t"))
    write_frames(root / "otb-Pair" / "img", 4, name=lambda i: f"{i + 1:04d}.jpg")
    (root / "otb-Pair" / "groundtruth_rect.1.txt").write_text(boxes_text(moving_boxes(4), ","))
    (root / "otb-Pair" / "groundtruth_rect.2.txt").write_text(boxes_text(moving_boxes(4, (5, 5, 10, 10)), ","))
    write_frames(root / "vot-ball" / "color", 3)
    polygons = [f"{x},15,{x + 16},15,{x + 16},27,{x},27" for x in (20, 18, 16)]
    (root / "vot-ball" / "groundtruth.txt").write_text("\n".join(polygons) + "\n")
    write_frames(root / "got-like", 4)
    (root / "got-like" / "groundtruth.txt").write_text(boxes_text(moving_boxes(4)))
    (root / "notes").mkdir()
    (root / "notes" / "readme.txt").write_text("not a sequence\n")
    (root / "list.txt").write_text("whatever\n")
    if with_attrs:
        (root / "otb-Walk" / "attrs.txt").write_text("SV, OCC\n")
        (root / "vot-ball" / "attrs.txt").write_text("FM CM\n")
    return root


def test_mixed_layouts_open_as_one_dataset(tmp_path):
    dataset = open_dataset("sequences", make_mixed(tmp_path / "mixed"))
    assert dataset.names() == ["got-like", "otb-Pair-1", "otb-Pair-2", "otb-Walk", "vot-ball"]
    assert dataset.convention == "ope" and dataset.results_layout == "flat"
    assert [s.num_frames for s in dataset] == [4, 4, 4, 5, 3]
    np.testing.assert_allclose(dataset["vot-ball"].ground_truth, [[20, 15, 16, 12], [18, 15, 16, 12],
                                                                  [16, 15, 16, 12]])
    np.testing.assert_allclose(dataset["otb-Pair-2"].init_box, [5, 5, 10, 10])
    np.testing.assert_allclose(dataset["otb-Walk"].ground_truth, moving_boxes(5))
    assert dataset["otb-Walk"].attributes == ("SV", "OCC") and dataset["vot-ball"].attributes == ("FM", "CM")
    assert dataset["got-like"].attributes == () and dataset["got-like"].read_frame(3).shape == (48, 64, 3)
    assert open_dataset("mixed", tmp_path / "mixed").names() == dataset.names()     # alias


def test_a_single_sequence_folder_is_a_dataset_of_one(tmp_path):
    root = make_mixed(tmp_path / "mixed")
    assert open_dataset("sequences", root / "vot-ball").names() == ["vot-ball"]
    assert open_dataset("sequences", root / "otb-Pair").names() == ["otb-Pair-1", "otb-Pair-2"]


def test_a_folder_without_sequences_says_what_it_expected(tmp_path):
    (tmp_path / "empty" / "stuff").mkdir(parents=True)
    with pytest.raises(DatasetLayoutError, match="groundtruth_rect.txt and img/.*groundtruth.txt"):
        open_dataset("sequences", tmp_path / "empty")
    with pytest.raises(DatasetLayoutError, match="does not exist"):
        open_dataset("sequences", tmp_path / "absent")


def test_scores_break_down_by_attributes_of_any_code(tmp_path):
    root = make_mixed(tmp_path / "mixed")
    dataset = open_dataset("sequences", root)
    results = tmp_path / "results" / "perfect"
    results.mkdir(parents=True)
    for seq in dataset:
        (results / f"{seq.name}.txt").write_text(boxes_text(seq.ground_truth))
    report = score_results(dataset, [results])
    tracker = report.trackers["perfect"]
    assert tracker.overall.auc == pytest.approx(20 / 21) and tracker.overall.sequences == 5   # IoU > 1 never holds
    assert tracker.per_attribute["OCC"].sequences == 1 and tracker.per_attribute["CM"].sequences == 1
    assert "SV Scale Variation" in report.format_text() and "CM" in report.format_text()


def test_the_shared_real_sequences():
    root = shared_path("data", "sequences")
    dataset = open_dataset("sequences", root)
    assert dataset.names() == ["otb-Couple", "otb-Crossing", "vot2015-ball1"]
    assert [s.num_frames for s in dataset] == [140, 120, 105]
    assert [len(s.ground_truth) for s in dataset] == [140, 120, 105]
    np.testing.assert_allclose(dataset["otb-Crossing"].init_box, [205, 151, 17, 50])
    np.testing.assert_allclose(dataset["vot2015-ball1"].init_box, [492, 417, 47, 46])
    assert "SV" in dataset["otb-Couple"].attributes
    assert dataset["vot2015-ball1"].read_frame(0).shape == (720, 1280, 3)
