"""The one benchmark table: names, aliases, readers, default splits and which tracker settings apply."""
import pytest

from mixformerv2.datasets import DATASET_NAMES, benchmark, dataset_name, open_dataset, settings_benchmark
from mixformerv2.tracking import TrackerParams


@pytest.mark.parametrize("alias, name", [("OTB100", "otb"), ("otb2015", "otb"), ("GOT-10k", "got10k"),
                                         ("got10k_test", "got10k"), ("LaSOT-ext", "lasot_ext"), ("nfs30", "nfs"),
                                         ("VOT2018", "vot"), ("uav", "uav123"), ("folders", "sequences")])
def test_aliases_name_the_same_benchmark_for_reading_and_for_settings(alias, name):
    assert benchmark(alias).name == name
    assert dataset_name(alias) == name
    assert TrackerParams.for_benchmark(alias) == TrackerParams.for_benchmark(name)


def test_default_splits_come_from_the_table():
    assert (benchmark("got10k").tracking_split, benchmark("got10k").scoring_split) == ("test", "val")
    assert benchmark("trackingnet").tracking_split == "test" and benchmark("lasot").tracking_split is None


def test_settings_borrowed_and_per_preset():
    assert settings_benchmark("uav20l").name == "uav123" and settings_benchmark("sequences").name == "default"
    assert TrackerParams.for_benchmark("got10k", "b").update_interval == 10
    assert TrackerParams.for_benchmark("got10k", "s").update_interval == 15
    assert TrackerParams.for_benchmark("lasot", "s").search_factor == 4.4
    assert TrackerParams.for_benchmark("trackingnet", "s").search_factor == 4.55
    assert TrackerParams.for_benchmark("otb", "s").search_factor == 4.5


def test_unknown_and_unreadable_names_are_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown benchmark 'nope'"):
        TrackerParams.for_benchmark("nope")
    assert "default" not in DATASET_NAMES
    with pytest.raises(ValueError, match="unknown dataset 'default'"):
        open_dataset("default", tmp_path)
