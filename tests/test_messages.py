"""Messages a user meets: they name the option and the file, and say what to do next."""
import pytest

from mixformerv2.cli import main


def error_of(args, capsys):
    code = main(args)
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err, err
    return err


def test_a_folder_given_as_weights_is_called_a_folder(tmp_path, capsys):
    err = error_of(["track", str(tmp_path), "--box", "1,1,5,5", "--weights", str(tmp_path)], capsys)
    assert f"--weights {tmp_path} is a folder; give the checkpoint file in it" in err
    err = error_of(["info", "--weights", str(tmp_path)], capsys)
    assert "is a folder" in err and "does not exist" not in err


def test_a_missing_weights_file_names_the_option(tmp_path, capsys):
    err = error_of(["track", str(tmp_path), "--box", "1,1,5,5", "--weights", str(tmp_path / "no.pth")], capsys)
    assert f"--weights {tmp_path / 'no.pth'} does not exist" in err


def test_unknown_model_lists_the_default_model_too(capsys):
    err = error_of(["info", "--model", "nosuch"], capsys)
    assert "unknown model 'nosuch'" in err and "default" in err and "mixformerv2-s" in err


def test_interrupted_training_says_where_to_resume_from(tmp_path, capsys, monkeypatch):
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent / "train"))
    from train_helpers import TINY, fast_overrides
    from mixformerv2.train import Trainer

    steps = {"n": 0}
    real_save = Trainer._save

    def save_then_interrupt(self, *a, **k):
        real_save(self, *a, **k)
        steps["n"] += 1
        if steps["n"] == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(Trainer, "_save", save_then_interrupt)
    out = tmp_path / "run"
    code = main(["train", str(TINY / "teacher.yaml"), "--output", str(out), "--no-progress",
                 *fast_overrides(batch=2, steps_per_epoch=2, epochs=3), "model.depth=2", "checkpoint.every_steps=1"])
    err = capsys.readouterr().err
    assert code == 130
    assert f"interrupted: the last checkpoint is {out / 'checkpoints' / 'last.pth'}; run the same command with " \
           f"--resume" in err


def test_a_failed_write_names_the_option(tmp_path, capsys):
    import os
    import stat

    full = tmp_path / "full"
    try:
        os.mknod(full, stat.S_IFCHR | 0o666, os.makedev(1, 7))
    except OSError as exc:
        pytest.skip(f"cannot make a device node here ({exc})")
    from conftest import shared_path

    root = shared_path("data", "sequences")
    err = error_of(["compare", "--root", str(root), "--sequences", "otb-Crossing", "--tracker", "kcf", "--results",
                    str(tmp_path / "r"), "--json", str(full), "--no-progress"], capsys)
    assert f"--json: cannot write {full}: No space left on device" in err
    assert stat.S_ISCHR(full.stat().st_mode)
