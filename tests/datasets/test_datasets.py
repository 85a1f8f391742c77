"""Readers in each benchmark's native layout, on small datasets written by the tests."""
import json

import numpy as np
import pytest

from mixformerv2.datasets.annotations import AnnotationError, mask_rle_to_box, read_boxes, read_regions
from mixformerv2.datasets import DatasetLayoutError, FramesUnavailableError, open_dataset

from .layouts import boxes_text, make_lasot, moving_boxes, write_frames


def test_malformed_annotation_names_file_and_line(tmp_path):
    path = tmp_path / "groundtruth.txt"
    path.write_text("1,2,3,4\n5,6,7,8\n9,10,x,12\n")
    with pytest.raises(AnnotationError, match=r"groundtruth.txt:3: expected 4 numbers"):
        read_boxes(path)
    path.write_text("1,2,3,4\n5,6,7\n")
    with pytest.raises(AnnotationError, match=r"groundtruth.txt:2: expected 4 numbers .*got 3"):
        read_boxes(path)


def test_box_files_accept_the_separators_and_nan_spellings_in_the_wild(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("1\t2\t3\t4\n5,6,7,8,\nNaN,NaN,NaN,NaN\n\n9 10 11 12\n")
    boxes = read_boxes(path)
    assert boxes.shape == (4, 4) and np.isnan(boxes[2]).all() and boxes[3, 3] == 12


def test_vot_regions_become_enclosing_boxes(tmp_path):
    path = tmp_path / "groundtruth.txt"
    path.write_text("492,463,539,463,539,417,492,417\n10,20,30,40\n0\n")
    boxes = read_regions(path)
    np.testing.assert_allclose(boxes[0], [492, 417, 47, 46])
    np.testing.assert_allclose(boxes[1], [10, 20, 30, 40])
    assert np.isnan(boxes[2]).all()
    # a 4x3 mask patch at (10, 20): runs 5 off, 2 on, 2 off, 2 on -> pixels (1,1),(2,1),(1,2),(2,2)
    np.testing.assert_allclose(mask_rle_to_box("m10,20,4,3,5,2,2,2"), [11, 21, 2, 2])


def test_lasot_dataset_layout_is_lazy_and_reads_flags(tmp_path):
    root = make_lasot(tmp_path / "LaSOT")
    (root / "dog" / "dog-3" / "groundtruth.txt").write_text("1,2,3,4\nbroken\n")
    dataset = open_dataset("lasot", root)           # opening reads no annotation
    assert dataset.names() == ["cat-1", "cat-2", "dog-3"] and dataset.convention == "lasot"
    cat = dataset["cat-1"]
    np.testing.assert_array_equal(cat.visible, [True, True, False, False, True, True])
    assert cat.language == "the cat in the middle" and cat.object_class == "cat"
    assert cat.num_frames == 6 and cat.read_frame(0).shape == (48, 64, 3)
    assert cat.read_frame(5).dtype == np.uint8
    with pytest.raises(AnnotationError, match=r"dog-3[/\\]groundtruth.txt:2"):
        dataset["dog-3"].ground_truth


def test_lasot_test_split_file(tmp_path):
    root = make_lasot(tmp_path / "LaSOT", frames=False, test_list=["dog-3", "cat-2"])
    assert open_dataset("lasot", root).names() == ["dog-3", "cat-2"]
    assert open_dataset("lasot", root, "all").names() == ["cat-1", "cat-2", "dog-3"]
    with pytest.raises(DatasetLayoutError, match="testing_set.txt"):
        open_dataset("lasot", make_lasot(tmp_path / "other", frames=False), "test")


def test_lasot_class_names_may_hold_digits(tmp_path):
    """Synthetic benchmarks name classes after their photos (wallpapers such as 2560x1600.png)."""
    root = make_lasot(tmp_path / "synthetic", frames=False, sequences=(("2560x1600-1", 4), ("wine-2", 3)),
                      test_list=["2560x1600-1", "wine-2"])
    dataset = open_dataset("lasot", root)
    assert dataset.names() == ["2560x1600-1", "wine-2"] and len(dataset["2560x1600-1"].ground_truth) == 4


def test_lasot_toolkit_annotation_only_layout(tmp_path):
    annos = tmp_path / "toolkit" / "annos"
    (annos / "absent").mkdir(parents=True)
    (annos / "att").mkdir()
    (annos / "bird-2.txt").write_text(boxes_text(moving_boxes(3)))
    (annos / "absent" / "bird-2.txt").write_text("0\n1\n0\n")
    (annos / "att" / "bird-2.txt").write_text("1,0,0,0,0,0,0,0,0,0,0,1,0,1\n")
    seq = open_dataset("lasot", tmp_path / "toolkit")["bird-2"]
    np.testing.assert_array_equal(seq.visible, [True, False, True])
    assert seq.attributes == ("IV", "OV", "ARC") and seq.num_frames == 3
    with pytest.raises(FramesUnavailableError, match="annotations only"):
        seq.frames


def test_unknown_layout_says_what_was_expected(tmp_path):
    (tmp_path / "stuff").mkdir()
    for name, expected in [("lasot", "<class>/<class>-<n>/groundtruth.txt"), ("got10k", "val/list.txt"),
                           ("trackingnet", "TEST/anno/<seq>.txt"), ("tnl2k", "<seq>/groundtruth.txt"),
                           ("uav123", "anno/UAV123/<seq>.txt"), ("otb", "groundtruth_rect.txt"),
                           ("nfs", "<seq>/30/<seq>.txt"), ("vot", "list.txt")]:
        with pytest.raises(DatasetLayoutError, match=expected.replace("<", ".").replace(">", ".")):
            open_dataset(name, tmp_path)
    with pytest.raises(ValueError, match="unknown dataset 'kitti'"):
        open_dataset("kitti", tmp_path)
    with pytest.raises(DatasetLayoutError, match="does not exist"):
        open_dataset("lasot", tmp_path / "nowhere")


def test_got10k_split_folder(tmp_path):
    val = tmp_path / "GOT10k" / "val"
    for i, n in [(1, 4), (2, 3)]:
        folder = val / f"GOT-10k_Val_{i:06d}"
        write_frames(folder, n)
        (folder / "groundtruth.txt").write_text(boxes_text(moving_boxes(n)))
        (folder / "absence.label").write_text("0\n" * (n - 1) + "1\n")
        (folder / "cover.label").write_text("8\n" * (n - 1) + "0\n")
        (folder / "meta_info.ini").write_text("[METAINFO]\nobject_class: cat\nresolution: (64, 48)\n")
    (val / "list.txt").write_text("GOT-10k_Val_000002\nGOT-10k_Val_000001\n")
    dataset = open_dataset("got10k", tmp_path / "GOT10k")
    assert dataset.names() == ["GOT-10k_Val_000002", "GOT-10k_Val_000001"]
    assert dataset.convention == "got10k" and dataset.results_layout == "got10k"
    seq = dataset["GOT-10k_Val_000001"]
    assert seq.image_size == (64, 48) and list(seq.cover) == [8, 8, 8, 0] and not seq.visible[-1]
    assert seq.has_full_ground_truth and seq.num_frames == 4
    assert open_dataset("got10k", val).names() == dataset.names()   # the split folder itself
    with pytest.raises(DatasetLayoutError, match="test/list.txt"):
        open_dataset("got10k", tmp_path / "GOT10k", "test")


def test_trackingnet_chunks_and_test_split(tmp_path):
    root = tmp_path / "TrackingNet"
    for chunk, seqs, full in [("TRAIN_0", ["a1", "a2"], True), ("TEST", ["t1"], False)]:
        for s in seqs:
            write_frames(root / chunk / "frames" / s, 3, name=lambda i: f"{i}.jpg")
            boxes = moving_boxes(3) if full else moving_boxes(1)
            (root / chunk / "anno").mkdir(parents=True, exist_ok=True)
            (root / chunk / "anno" / f"{s}.txt").write_text(boxes_text(boxes))
    test = open_dataset("trackingnet", root)
    assert test.names() == ["t1"] and not test["t1"].has_full_ground_truth and test["t1"].num_frames == 3
    assert [p.name for p in test["t1"].frames] == ["0.jpg", "1.jpg", "2.jpg"]
    train = open_dataset("trackingnet", root, "TRAIN_0")
    assert train.names() == ["a1", "a2"] and train.convention == "trackingnet"
    with pytest.raises(DatasetLayoutError, match="no chunk folder TRAIN_5"):
        open_dataset("trackingnet", root, "5")


def test_tnl2k_language_and_frames(tmp_path):
    folder = tmp_path / "TNL2K_test" / "part1" / "Car_video_1"
    write_frames(folder / "imgs", 3, name=lambda i: f"{i:05d}.png")
    (folder / "groundtruth.txt").write_text(boxes_text(moving_boxes(3)))
    (folder / "language.txt").write_text("the white car\n")
    seq = open_dataset("tnl2k", tmp_path / "TNL2K_test")["Car_video_1"]
    assert seq.language == "the white car" and len(seq.frames) == 3


def test_sequence_folders_one_or_two_levels_down(tmp_path):
    import re

    from mixformerv2.datasets.base import sequence_folders

    for rel in ("top-1", "zoo/zoo-2", "zoo/notes", "zoo/readme-x", "aa/aa-10"):
        (tmp_path / rel).mkdir(parents=True)
        if rel != "zoo/notes":
            (tmp_path / rel / "groundtruth.txt").write_text("1,2,3,4\n")
    (tmp_path / "top-1" / "inner-3").mkdir()  # not searched: top-1 is a sequence itself
    (tmp_path / "top-1" / "inner-3" / "groundtruth.txt").write_text("1,2,3,4\n")
    assert list(sequence_folders(tmp_path)) == ["aa-10", "top-1", "readme-x", "zoo-2"]
    found = sequence_folders(tmp_path, nested_name=re.compile(r"^[a-z]+-\d+$"))
    assert found == {"aa-10": tmp_path / "aa/aa-10", "top-1": tmp_path / "top-1", "zoo-2": tmp_path / "zoo/zoo-2"}
    with pytest.raises(DatasetLayoutError, match="does not exist"):
        sequence_folders(tmp_path / "missing")


CONFIG_SEQS = """function seqs=configSeqs
seqUAV123={struct('name','bird1_1','path','d:\\\\data_seq\\\\UAV123\\\\bird1\\\\','startFrame',1,'endFrame',3,'nz',6,'ext','jpg','init_rect', [0,0,0,0]),...
    struct('name','bird1_2','path','d:\\\\data_seq\\\\UAV123\\\\bird1\\\\','startFrame',5,'endFrame',7,'nz',6,'ext','jpg','init_rect', [0,0,0,0])};
"""


def test_uav123_segments_attributes_and_nan_rows(tmp_path):
    root = tmp_path / "UAV123"
    write_frames(root / "data_seq" / "UAV123" / "bird1", 8, name=lambda i: f"{i + 1:06d}.jpg")
    (root / "anno" / "UAV123" / "att").mkdir(parents=True)
    for name in ("bird1_1", "bird1_2"):
        (root / "anno" / "UAV123" / f"{name}.txt").write_text("1,2,3,4\nNaN,NaN,NaN,NaN\n5,6,7,8\n")
    (root / "anno" / "UAV123" / "att" / "bird1_2.txt").write_text("1,0,0,0,1,0,0,0,0,0,0,1\n")
    (root / "util").mkdir()
    (root / "util" / "configSeqs.m").write_text(CONFIG_SEQS)
    dataset = open_dataset("uav123", root)
    assert dataset.convention == "uav-pytracking"
    seq = dataset["bird1_2"]
    assert [p.name for p in seq.frames] == ["000005.jpg", "000006.jpg", "000007.jpg"]
    assert np.isnan(seq.ground_truth[1]).all() and seq.attributes == ("SV", "FOC", "SOB")
    (root / "util" / "configSeqs.m").unlink()
    with pytest.raises(FramesUnavailableError, match="configSeqs.m"):
        open_dataset("uav123", root)["bird1_2"].frames


def test_nfs_30fps_takes_every_eighth_240fps_row(tmp_path):
    folder = tmp_path / "NfS" / "Basketball" / "30"
    write_frames(folder / "Basketball", 3, name=lambda i: f"{i + 1:05d}.jpg")
    rows = [f'1 {10 + i} 20 {30 + i} 50 {i + 1} 0 0 0 "person"' for i in range(24)]
    (folder / "Basketball.txt").write_text("\n".join(rows) + "\n")
    seq = open_dataset("nfs", tmp_path / "NfS")["Basketball"]
    np.testing.assert_allclose(seq.ground_truth, [[10, 20, 20, 30], [18, 20, 20, 30], [26, 20, 20, 30]])
    (folder / "Basketball.txt").write_text('1 10 20 oops 50 1 0 0 0 "person"\n')
    with pytest.raises(AnnotationError, match=r"Basketball.txt:1"):
        open_dataset("nfs", tmp_path / "NfS")["Basketball"].ground_truth


def test_vot_list_and_color_folder(tmp_path):
    root = tmp_path / "vot2018"
    write_frames(root / "ball" / "color", 2)
    (root / "ball" / "groundtruth.txt").write_text("1,1,11,1,11,6,1,6\n2,1,12,1,12,6,2,6\n")
    (root / "list.txt").write_text("ball\n")
    seq = open_dataset("vot", root)["ball"]
    np.testing.assert_allclose(seq.ground_truth, [[1, 1, 10, 5], [2, 1, 10, 5]])
    assert len(seq.frames) == 2


def test_otb_native_multi_target_and_late_start(tmp_path):
    root = tmp_path / "OTB100"
    write_frames(root / "Jogging" / "img", 3, name=lambda i: f"{i + 1:04d}.jpg")
    (root / "Jogging" / "groundtruth_rect.1.txt").write_text(boxes_text(moving_boxes(3), "\t"))
    (root / "Jogging" / "groundtruth_rect.2.txt").write_text(boxes_text(moving_boxes(3), " "))
    write_frames(root / "David" / "img", 4, name=lambda i: f"{i + 298:04d}.jpg")   # 0298..0301
    (root / "David" / "groundtruth_rect.txt").write_text(boxes_text(moving_boxes(2)))
    (root / "David" / "attrs.txt").write_text("IV, SV, OCC\n")
    dataset = open_dataset("otb100", root)
    assert dataset.names() == ["David", "Jogging-1", "Jogging-2"]
    assert [p.name for p in dataset["David"].frames] == ["0300.jpg", "0301.jpg"]
    assert dataset["David"].attributes == ("IV", "SV", "OCC")


def test_otb_json_layout(tmp_path):
    root = tmp_path / "OTB"
    write_frames(root / "Jogging" / "img", 2, name=lambda i: f"{i + 1:04d}.jpg")
    meta = {"jogging_1": {"name": "Jogging", "image_files": ["0001.jpg", "0002.jpg"], "init_rect": [1, 2, 3, 4],
                          "gt_rect": [[1, 2, 3, 4], [2, 2, 3, 4]], "attr": ["Occlusion", "DEF"]}}
    (root / "OTB2015.json").write_text(json.dumps(meta))
    seq = open_dataset("otb", root)["jogging_1"]
    assert seq.frames[0] == root / "Jogging" / "img" / "0001.jpg" and seq.attributes == ("OCC", "DEF")
    assert open_dataset("otb", root).select(["Jogging-1"]).names() == ["jogging_1"]
