"""Training configs (inheritance, overrides, errors) and the train/synthetic/benchmark-train commands."""
from __future__ import annotations

import pytest

from mixformerv2.cli import main
from mixformerv2.train import load_config
from mixformerv2.train.config import ConfigError

from train_helpers import CONFIGS, TINY, fast_overrides


STAGE_FILES = [p for p in sorted(CONFIGS.glob("*.yaml")) + sorted(TINY.glob("*.yaml"))
               + sorted((CONFIGS / "default").glob("*.yaml"))
               if not p.name.startswith("_") and p.name != "synthetic_test.yaml"]  # a dataset config


def test_official_configs_train_the_published_model():
    """The additions to the recipe are off in the official configs: no convolutional patch embedding."""
    from mixformerv2.train.trainer import model_config_from

    for path in sorted(CONFIGS.glob("*.yaml")):
        if not path.name.startswith("_"):
            assert model_config_from(load_config(path).model).patch_embed == "linear", path.name
    stem = load_config(CONFIGS / "default" / "real_conv_stem.yaml")
    assert stem.model["patch_embed"] == "mobilenetv3" and stem.optim.stem_lr_mult == 0.0


@pytest.mark.parametrize("path", STAGE_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_committed_stage_config_loads(path):
    config = load_config(path)
    assert config.stage and config.data.datasets and config.output


def test_full_recipe_states_the_spec_settings():
    c = load_config(CONFIGS / "b_progressive_elimination.yaml")
    assert (c.optim.lr, c.optim.backbone_lr_mult, c.optim.weight_decay, c.optim.grad_clip, c.optim.batch_size) == \
        (4e-4, 0.1, 1e-4, 0.1, 32)
    assert c.elimination.blocks == [0, 3, 6, 9] and c.elimination.epochs == 40
    assert c.feature_pairs == [[2, 2], [5, 5], [8, 8], [11, 11]]
    assert (c.data.search_factor, c.data.search_center_jitter, c.data.search_scale_jitter) == (5.0, 4.5, 0.5)
    s = load_config(CONFIGS / "s_finetune.yaml")
    assert s.model == {"preset": "mixformerv2-s", "num_bins": 72}
    assert load_config(CONFIGS / "s_progressive_elimination.yaml").init.reduce_mlp


def test_base_inheritance_and_overrides(tmp_path):
    (tmp_path / "a.yaml").write_text("stage: teacher\nmodel: s\ndata: {datasets: [{type: synthetic}], max_gap: 7}\n"
                                     "optim: {lr: 1.0e-3, lr_drop_epochs: [5]}\n")
    (tmp_path / "b.yaml").write_text("base: a.yaml\noptim: {epochs: 3}\n")
    c = load_config(tmp_path / "b.yaml", ["optim.lr=2e-3", "data.max_gap=9", "optim.lr_drop_epochs=[1, 2]"])
    assert (c.optim.epochs, c.optim.lr, c.data.max_gap, c.optim.lr_drop_epochs) == (3, 2e-3, 9, [1, 2])
    with pytest.raises(ConfigError, match="optim.lrr"):
        load_config(tmp_path / "b.yaml", ["optim.lrr=1"])
    with pytest.raises(ConfigError, match="must be a number"):
        load_config(tmp_path / "b.yaml", ["optim.lr=fast"])
    with pytest.raises(ConfigError, match="stage must be one of"):
        load_config(tmp_path / "b.yaml", ["stage=pretrain"])
    (tmp_path / "loop.yaml").write_text("base: loop.yaml\n")
    with pytest.raises(ConfigError, match="includes itself"):
        load_config(tmp_path / "loop.yaml")


def test_train_command_runs_and_reports_errors(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["train", str(TINY / "teacher.yaml"), "--output", "out", "--no-progress", *fast_overrides()]) == 0
    assert (tmp_path / "out" / "model.pth").is_file() and (tmp_path / "out" / "config.yaml").is_file()
    assert main(["train", str(TINY / "teacher.yaml"), "--output", "out", *fast_overrides()]) == 2
    assert "--resume" in capsys.readouterr().err
    assert main(["train", str(tmp_path / "missing.yaml")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["train", str(TINY / "teacher.yaml"), "optim.batch_size=zero"]) == 2
    assert "optim.batch_size" in capsys.readouterr().err


def test_synthetic_command_writes_a_benchmark(tmp_path, capsys):
    cfg = tmp_path / "syn.yaml"
    cfg.write_text("frame_width: 128\nframe_height: 96\nmin_target_size: 10\nmax_target_size: 30\n"
                   "min_length: 12\nmax_length: 15\n")
    assert main(["synthetic", str(tmp_path / "bench"), "--sequences", "2", "--config", str(cfg), "--photos", "skimage"]) == 0
    names = (tmp_path / "bench" / "testing_set.txt").read_text().split()
    assert len(names) == 2 and "wrote 2 sequences" in capsys.readouterr().out
    assert all(len(list((tmp_path / "bench").glob(f"*/{n}/img/*.jpg"))) >= 12 for n in names)


@pytest.mark.slow
def test_benchmark_train_reports_samples_per_second(capsys):
    over = fast_overrides(batch=4)
    assert main(["benchmark-train", str(TINY / "teacher.yaml"), *over, "model.head=tokens", "model.depth=2",
                 "--processes", "1", "2", "--steps", "2", "--warmup", "1", "--loader-batches", "2"]) == 0
    out = capsys.readouterr().out
    assert "samples/s" in out and "data loading alone" in out
