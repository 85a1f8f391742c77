"""The default model: a name that works wherever a preset name does, the model when none is named, its model
card, and a clear error (never a traceback) when its weights are not installed."""
import json
import re

import numpy as np
import pytest
import torch

from conftest import TINY_DEFAULT
from datasets.layouts import boxes_text, moving_boxes, write_frames
from mixformerv2 import ModelConfig, Tracker, TrackerParams, build_model, save_checkpoint
from mixformerv2.cli import main
from mixformerv2.model.checkpoint import CheckpointError
from mixformerv2.model import hub as pretrained
from mixformerv2.model.hub import BundledModelMissingError, WeightsRequiredError


def sequence_folder(root):
    """A one-sequence dataset in OTB layout (8 frames of 64x48) for track / eval / compare."""
    write_frames(root / "walk" / "img", 8, name=lambda i: f"{i + 1:04d}.jpg")
    (root / "walk" / "groundtruth_rect.txt").write_text(boxes_text(moving_boxes(8)))
    return root


def write_card(weights, **changes):
    card_file = weights.with_suffix(".json")
    card = json.loads(card_file.read_text())
    card.update(changes)
    card_file.write_text(json.dumps(card))


# Absent: what every command says ------------------------------------------------------------------------------
def test_absent_default_model_is_a_clear_error_from_python(no_default_model):
    with pytest.raises(BundledModelMissingError) as info:
        Tracker.load()
    message = str(info.value)
    assert "default model is not installed" in message and str(no_default_model / "default.safetensors") in message
    assert "--weights PATH" in message and "MIXFORMERV2_DEFAULT_WEIGHTS" in message
    assert isinstance(info.value, WeightsRequiredError)
    with pytest.raises(BundledModelMissingError):
        Tracker.load(model="default")
    with pytest.raises(BundledModelMissingError):
        pretrained.load_model("default")
    # Presets and configs are unaffected: their params need no bundled file.
    assert TrackerParams.for_benchmark("lasot", "s").search_factor == 4.4


@pytest.mark.parametrize("command", ["track", "eval", "compare", "bench", "export", "info", "demo"])
@pytest.mark.parametrize("model", [[], ["--model", "default"], ["--model", "DEFAULT"]])
def test_absent_default_model_stops_every_command(no_default_model, tmp_path, capsys, command, model):
    root = sequence_folder(tmp_path / "data")
    argv = {"track": ["track", str(root / "walk"), "--box", "20,15,16,12", "--out", str(tmp_path / "out" / "b.txt")],
            "eval": ["eval", "--dataset", "sequences", "--root", str(root), "--results", str(tmp_path / "out")],
            "compare": ["compare", "--root", str(root), "--tracker", "mixformerv2", "--results", str(tmp_path / "out")],
            "bench": ["bench", "--frames", "2", "--warmup", "0", "--backend", "torch"],
            "export": ["export", "--out", str(tmp_path / "out")],
            "info": ["info"],
            "demo": ["demo", "--out", str(tmp_path / "out"), "--frames", "5"]}[command]
    assert main(argv + model) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"mixformerv2 {command}: error: the default model is not installed")
    assert "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_env_var_pointing_nowhere_is_named(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("MIXFORMERV2_DEFAULT_WEIGHTS", str(tmp_path / "missing.safetensors"))
    assert main(["info", "--model", "default"]) == 2
    err = capsys.readouterr().err
    assert "missing.safetensors do not exist (MIXFORMERV2_DEFAULT_WEIGHTS names that file)" in err


# Installed: every entry point uses it ---------------------------------------------------------------------------
def test_default_model_loads_with_its_stored_config_and_card(default_model):
    tracker = Tracker.load()
    assert tracker.backend.config == ModelConfig.from_dict(TINY_DEFAULT)
    from safetensors.torch import load_file

    reference = build_model(TINY_DEFAULT)
    reference.load_state_dict(load_file(default_model))
    loaded = pretrained.load_model("default")
    for (name, a), (_, b) in zip(sorted(reference.state_dict().items()), sorted(loaded.state_dict().items())):
        assert torch.equal(a, b), name
    # The card's tracker settings (the shipped card's values) apply to every benchmark.
    shipped = json.loads((default_model.with_suffix(".json")).read_text())["tracker"]
    assert tracker.params.search_factor == shipped["search_factor"]
    assert tracker.params.update_interval == shipped["update_interval"]
    assert pretrained.model_name(loaded) == "default" and loaded.card.name == "default"
    assert pretrained.describe_weights() == f"default ({default_model})"


def test_card_settings_per_benchmark_come_with_the_loaded_weights_only(default_model, tiny_weights_file):
    from mixformerv2.tracking import params_for_model

    write_card(default_model, tracker={"search_factor": 4.2, "update_interval": 30},
               benchmarks={"GOT-10k": {"update_interval": 5}}, weights_sha256=None)
    loaded = pretrained.load_model("default")
    assert (params_for_model(loaded).search_factor, params_for_model(loaded).update_interval) == (4.2, 30)
    got = params_for_model(loaded, "got10k")
    assert (got.search_factor, got.update_interval) == (4.2, 5)
    assert Tracker.load(benchmark="got10k").params.update_interval == 5
    assert Tracker(loaded).params.search_factor == 4.2
    # The same architecture built elsewhere, or other weights of it, do not inherit the card's settings.
    assert Tracker(build_model(TINY_DEFAULT)).params.search_factor == 5.0
    other = pretrained.load_model(weights=tiny_weights_file)
    assert other.config == loaded.config and other.card is None
    assert Tracker(other).params.search_factor == 5.0
    assert TrackerParams.for_benchmark("lasot", "s").search_factor == 4.4


def test_a_card_beside_other_weights_counts_only_when_it_names_their_digest(tiny_weights_file):
    card = tiny_weights_file.with_suffix(".json")
    card.write_text(json.dumps({"name": "mine", "tracker": {"search_factor": 3.5}, "weights_sha256": "0" * 64}))
    assert pretrained.load_model(weights=tiny_weights_file).card is None
    card.write_text(json.dumps({"name": "mine", "tracker": {"search_factor": 3.5},
                                "weights_sha256": pretrained.file_sha256(tiny_weights_file)}))
    loaded = pretrained.load_model(weights=tiny_weights_file)
    assert loaded.card.name == "mine" and Tracker(loaded).params.search_factor == 3.5
    card.unlink()


@pytest.mark.parametrize("card, message", [
    ({"tracker": {"search_size": 128}}, "unknown tracker settings ['search_size']"),
    ({"tracker": {"search_factor": -1}}, "search_factor must be a positive number"),
    ({"benchmarks": {"nope": {}}}, "unknown benchmark 'nope'"),
    ({"weights_sha256": "0" * 64}, "describes other weights than"),
])
def test_a_bad_card_is_named(default_model, card, message):
    write_card(default_model, **card)
    with pytest.raises(ValueError, match=re.escape(message)) as info:
        Tracker.load()
    assert str(default_model.with_suffix(".json")) in str(info.value)


def test_unreadable_card_and_weights_without_config(default_model, tmp_path):
    default_model.with_suffix(".json").write_text("{not json")
    with pytest.raises(pretrained.ModelCardError, match="is unreadable"):
        Tracker.load()


def test_weights_without_a_stored_config_are_refused(monkeypatch, tmp_path):
    from safetensors.torch import save_file

    bare = tmp_path / "bare.safetensors"
    save_file({k: v.contiguous() for k, v in build_model(TINY_DEFAULT).state_dict().items()}, str(bare))
    monkeypatch.setenv("MIXFORMERV2_DEFAULT_WEIGHTS", str(bare))
    with pytest.raises(CheckpointError, match="store no model config"):
        Tracker.load()


def test_env_var_selects_another_file_and_its_card(monkeypatch, tmp_path, no_default_model):
    torch.manual_seed(1)
    other = dict(TINY_DEFAULT, num_bins=8)
    save_checkpoint(build_model(other), tmp_path / "mine.safetensors")
    monkeypatch.setenv("MIXFORMERV2_DEFAULT_WEIGHTS", str(tmp_path / "mine.safetensors"))
    assert Tracker.load().backend.config.num_bins == 8
    assert Tracker.load().params.search_factor == 5.0                  # no card beside it: the table's values
    (tmp_path / "mine.json").write_text(json.dumps({"tracker": {"search_factor": 3.5}}))
    assert Tracker.load().params.search_factor == 3.5


def test_a_bundled_name_and_weights_together_are_refused(default_model, tmp_path, capsys):
    with pytest.raises(ValueError, match="names the weights shipped with the package"):
        Tracker.load(default_model, model="default")
    assert main(["info", "--model", "default", "--weights", str(default_model)]) == 2
    assert "give either it or --weights" in capsys.readouterr().err


def test_presets_without_weights_still_need_them_or_get_random_weights(default_model):
    with pytest.raises(WeightsRequiredError, match="weights are required"):
        Tracker.load(model="s")
    assert pretrained.load_model("s", required=False).config.embed_dim == 768     # info / bench / export
    assert pretrained.describe_weights("s") == "random"


# Installed: the commands ------------------------------------------------------------------------------------
def test_info_describes_the_default_model(default_model, capsys):
    for argv in (["info", "--json"], ["info", "--model", "default", "--json"]):
        assert main(argv) == 0
        report = json.loads(capsys.readouterr().out)
        assert report["model"] == "default"
        assert report["parameters"]["total"] == sum(p.numel() for p in build_model(TINY_DEFAULT).parameters())


@pytest.mark.parametrize("model", [[], ["--model", "default"]])
def test_track_eval_and_compare_run_the_default_model(default_model, tmp_path, capsys, model):
    root = sequence_folder(tmp_path / "data")
    out = tmp_path / "boxes.txt"
    assert main(["track", str(root / "walk"), "--box", "20,15,16,12", "--out", str(out), "--threads", "1"] + model) == 0
    boxes = np.loadtxt(out, delimiter=",")
    assert boxes.shape == (8, 4) and np.allclose(boxes[0], [20, 15, 16, 12])

    assert main(["eval", "--dataset", "sequences", "--root", str(root), "--results", str(tmp_path / "eval"),
                 "--threads", "1", "--no-progress"] + model) == 0
    identity = json.loads((tmp_path / "eval" / "tracker.json").read_text())
    assert identity["model"] == ModelConfig.from_dict(TINY_DEFAULT).to_dict()
    assert np.allclose(np.loadtxt(tmp_path / "eval" / "walk.txt", delimiter=","), boxes, atol=1e-3)

    assert main(["compare", "--root", str(root), "--tracker", "mixformerv2", "--tracker", "kcf", "--threads", "1",
                 "--results", str(tmp_path / "cmp"), "--no-progress"] + model) == 0
    assert np.allclose(np.loadtxt(tmp_path / "cmp" / "mixformerv2" / "walk.txt", delimiter=","), boxes, atol=1e-3)
    capsys.readouterr()


def test_bench_and_export_use_the_default_model(default_model, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("MIXFORMERV2_CACHE", str(tmp_path / "cache"))
    assert main(["bench", "--frames", "3", "--warmup", "0", "--threads", "1", "--backend", "torch",
                 "--json", str(tmp_path / "bench.json")]) == 0
    report = json.loads((tmp_path / "bench.json").read_text())
    assert report["model"] == "default" and report["weights"] == f"default ({default_model})"
    assert main(["export", "--model", "default", "--out", str(tmp_path / "onnx"), "--int8", "none"]) == 0
    manifest = json.loads((tmp_path / "onnx" / "manifest.json").read_text())
    assert manifest["config"] == ModelConfig.from_dict(TINY_DEFAULT).to_dict()
    capsys.readouterr()


def test_the_shipped_card_is_valid_and_packaged():
    """The card in the source tree reads without error, and pyproject ships assets/* as package data."""
    import tomllib

    from conftest import PROJECT_ROOT

    shipped = pretrained.ASSETS / "default.json"
    assert shipped.is_file()
    card = pretrained.read_model_card("default", pretrained.ASSETS / "default.safetensors")
    assert card.path == shipped and TrackerParams(**card.tracker)
    pyproject = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())
    assert "assets/*" in pyproject["tool"]["setuptools"]["package-data"]["mixformerv2"]


@pytest.mark.slow
def test_a_wheel_ships_the_default_model(tmp_path):
    """Build a wheel of a copy of the project with weights in assets/: both files are in it."""
    import shutil
    import subprocess
    import sys
    import zipfile

    from conftest import PROJECT_ROOT

    project = tmp_path / "project"
    shutil.copytree(PROJECT_ROOT, project, ignore=shutil.ignore_patterns(".venv", ".git", "runs", "build", "*.egg-info",
                                                                         "__pycache__", "demo_output"))
    save_checkpoint(build_model(TINY_DEFAULT), project / "src" / "mixformerv2" / "assets" / "default.safetensors")
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w",
                           str(tmp_path / "dist"), str(project)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    (wheel,) = (tmp_path / "dist").glob("mixformerv2-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {"mixformerv2/assets/default.safetensors", "mixformerv2/assets/default.json"} <= names


def test_ship_model_installs_weights_and_card_that_load_back(tmp_path, tiny_weights_file, monkeypatch):
    from mixformerv2.model import hub

    assets = tmp_path / "assets"
    assets.mkdir()
    weights, card = hub.ship_model(tiny_weights_file, assets, tracker={"search_factor": 3.75}, half=True,
                                   check=Tracker)
    data = json.loads(card.read_text())
    assert data["weights_sha256"] == hub.file_sha256(weights) and data["tracker"] == {"search_factor": 3.75}
    assert data["model"] == ModelConfig.from_dict(TINY_DEFAULT).to_dict()
    monkeypatch.setattr(hub, "ASSETS", assets)
    loaded = hub.load_model("default")
    assert loaded.card.name == "default" and Tracker(loaded).params.search_factor == 3.75
    with pytest.raises(ValueError, match="unknown tracker settings"):
        hub.ship_model(tiny_weights_file, assets, tracker={"search_size": 64})
