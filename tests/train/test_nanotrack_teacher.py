"""NanoTrack as a teacher: its side distributions on the student's own crops locate real targets, its features
come batched, and the switches are refused without it."""
import numpy as np
import pytest
import torch

from conftest import shared_path
from mixformerv2.train import load_config
from mixformerv2.train.config import ConfigError
from mixformerv2.train.nanotrack_teacher import (NanoTrackTeacher, NanoTrackTeacherError, pooled_tokens,
                                                 token_similarity_loss)

from train_helpers import TINY, fast_overrides


def real_crop_pairs(count=8, seed=0):
    """(templates uint8 (B,3,64,64), search uint8 (B,3,128,128), ground truth x1,y1,x2,y2 normalized (B,4)) cut
    with the training crop from the real validation split, the search window jittered around the target."""
    from mixformerv2.data.processing import training_crop
    from mixformerv2.datasets import open_dataset
    from mixformerv2.geometry import box_in_crop

    dataset = open_dataset("got10k", shared_path("data", "real"), "val")
    rng = np.random.default_rng(seed)
    templates, searches, boxes = [], [], []
    for seq in list(dataset)[:count]:
        template, _ = training_crop(seq.read_frame(0), seq.ground_truth[0], 2.0, 64)
        box = seq.ground_truth[8]
        jittered = box.copy()
        jittered[:2] += rng.normal(0, 0.3, 2) * np.sqrt(box[2] * box[3])
        search, window = training_crop(seq.read_frame(8), jittered, 4.0, 128)
        x, y, w, h = box_in_crop(box, window, 128)
        templates.append(template)
        searches.append(search)
        boxes.append([x, y, x + w, y + h])
    as_tensor = lambda images: torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).contiguous()
    return as_tensor(templates), as_tensor(searches), torch.tensor(boxes)


@pytest.mark.parametrize("version", ["v2", "v3"])
def test_side_distributions_find_real_targets(version):
    teacher = NanoTrackTeacher(shared_path("models", "nanotrack", version))
    templates, search, gt = real_crop_pairs()
    sides = teacher.side_distributions(templates, search, 32)
    positions = torch.arange(32) / 32
    pred = torch.stack([(sides[s] * positions).sum(1) for s in ("l", "t", "r", "b")], dim=1)
    for s in sides.values():
        assert s.shape == (8, 32) and torch.allclose(s.sum(1), torch.ones(8), atol=1e-4)
    lt, rb = torch.maximum(pred[:, :2], gt[:, :2]), torch.minimum(pred[:, 2:], gt[:, 2:])
    inter = (rb - lt).clamp_min(0).prod(1)
    union = (pred[:, 2:] - pred[:, :2]).prod(1) + (gt[:, 2:] - gt[:, :2]).prod(1) - inter
    assert (inter / union).mean() > 0.7           # measured 0.87 for both versions


def test_features_are_batched_and_similarities_compare_places():
    teacher = NanoTrackTeacher(shared_path("models", "nanotrack", "v2"))
    templates, search, _ = real_crop_pairs(4)
    one = teacher.features(search[:1], 255)
    many = teacher.features(search, 255)
    assert many.shape == (4, 48, 16, 16) and torch.allclose(many[:1], one, atol=1e-3)
    tokens = pooled_tokens(many, 8)
    assert tokens.shape == (4, 64, 48)
    assert token_similarity_loss(tokens, tokens).item() == pytest.approx(0.0, abs=1e-6)
    assert token_similarity_loss(torch.randn(4, 64, 16), tokens).item() > 0.01


def test_bad_teacher_folders_are_named(tmp_path):
    with pytest.raises(NanoTrackTeacherError, match="backbone.onnx does not exist"):
        NanoTrackTeacher(tmp_path)
    (tmp_path / "backbone.onnx").write_bytes(b"garbage")
    (tmp_path / "head.onnx").write_bytes(b"garbage")
    with pytest.raises(NanoTrackTeacherError, match="not a readable ONNX graph"):
        NanoTrackTeacher(tmp_path)
    import shutil

    v2, v3 = shared_path("models", "nanotrack", "v2"), shared_path("models", "nanotrack", "v3")
    shutil.copy(v2 / "backbone.onnx", tmp_path / "backbone.onnx")
    shutil.copy(v3 / "head.onnx", tmp_path / "head.onnx")
    with pytest.raises(NanoTrackTeacherError, match="different NanoTrack versions"):
        NanoTrackTeacher(tmp_path)


def test_switches_need_the_teacher_and_dense_to_sparse_may_use_it_alone():
    with pytest.raises(ConfigError, match="need teacher.nanotrack"):
        load_config(TINY / "teacher.yaml", fast_overrides() + ["loss.nanotrack_feature=1.0"])
    with pytest.raises(ConfigError, match="needs teacher.weights .* or teacher.nanotrack"):
        load_config(TINY / "dense_to_sparse.yaml", fast_overrides() + ["teacher.weights=null"])
    with pytest.raises(ConfigError, match="needs loss.nanotrack_kl > 0"):
        load_config(TINY / "dense_to_sparse.yaml", fast_overrides() + ["teacher.weights=null",
                                                                        "teacher.nanotrack=somewhere"])
    config = load_config(TINY / "dense_to_sparse.yaml", fast_overrides() + [
        "teacher.weights=null", "teacher.nanotrack=somewhere", "loss.nanotrack_kl=1.0"])
    assert config.teacher.nanotrack == "somewhere"


def test_a_student_trains_from_nanotrack_alone_on_real_data(tmp_path):
    from mixformerv2.train import Trainer

    real = shared_path("data", "real")
    over = fast_overrides(batch=4, steps_per_epoch=2) + [
        "teacher.weights=null", "init.weights=null", f"teacher.nanotrack={shared_path('models', 'nanotrack', 'v2')}",
        "loss.nanotrack_kl=1.0", "loss.nanotrack_feature=1.0", "loss.kl=0", "loss.feature=0",
        f"data.datasets=[{{type: got10k, root: {real}, include: 'davis-*'}}]", "model.depth=2"]
    trainer = Trainer(load_config(TINY / "dense_to_sparse.yaml", over), output_dir=str(tmp_path / "run"),
                      progress=False)
    result = trainer.run()
    trainer.close()
    stats = result["history"][-1]["train"]
    assert stats["nanotrack_kl"] > 0 and stats["nanotrack_feature"] > 0 and np.isfinite(stats["loss"])
    assert (tmp_path / "run" / "model.pth").is_file()


def test_real_data_with_nanotrack_resumes_bit_for_bit(tmp_path):
    """Training on the real sequences (GOT-10k reader) with NanoTrack's losses, stopped mid-epoch and resumed,
    ends with exactly the weights of an uninterrupted run."""
    from mixformerv2.train import Trainer

    real = shared_path("data", "real")
    over = fast_overrides(batch=2, steps_per_epoch=2, epochs=2) + [
        "teacher.weights=null", "init.weights=null", f"teacher.nanotrack={shared_path('models', 'nanotrack', 'v2')}",
        "loss.nanotrack_kl=1.0", "loss.nanotrack_feature=1.0", "loss.kl=0", "loss.feature=0", "model.depth=2",
        f"data.datasets=[{{type: got10k, root: {real}, include: ['davis-b*', 'otb-D*']}}]"]

    def run(name, **kwargs):
        trainer = Trainer(load_config(TINY / "dense_to_sparse.yaml", over), output_dir=str(tmp_path / name),
                          progress=False, **kwargs)
        result = trainer.run()
        trainer.close()
        return result

    run("full")
    assert run("cut", max_steps=3)["stopped_early"]
    assert run("cut", resume=True)["global_step"] == 4
    full = torch.load(tmp_path / "full" / "model.pth", weights_only=True)["net"]
    cut = torch.load(tmp_path / "cut" / "model.pth", weights_only=True)["net"]
    assert [k for k in full if not torch.equal(full[k], cut[k])] == []
