"""Shared test helpers. Reference data lives in ../shared beside the project (never copied into it)."""
from __future__ import annotations

from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SHARED = PROJECT_ROOT.parent / "shared"
FIXTURES = SHARED / "fixtures"
DATA = SHARED / "data"


def shared_path(*parts: str) -> Path:
    """A path under ../shared, or skip the test with the reason when it is absent."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"reference data {path} is absent (../shared is not beside the project)")
    return path


def pytest_configure(config) -> None:
    """Keep the synthetic dataset's photo cache out of the user's home during tests."""
    import os
    import tempfile

    os.environ.setdefault("MIXFORMERV2_CACHE", tempfile.mkdtemp(prefix="mixformerv2-test-cache-"))
    # --backend auto measures every backend once per model; the tests of other things use torch (tests of auto
    # pass --backend auto).
    os.environ.setdefault("MIXFORMERV2_BACKEND", "torch")


# The default model: tests never depend on whether trained weights are installed in the package.
TINY_DEFAULT = dict(embed_dim=64, depth=2, num_heads=4, mlp_ratio=1, template_size=32, search_size=64, num_bins=16)


@pytest.fixture
def no_default_model(monkeypatch, tmp_path_factory):
    """The package as shipped without trained default weights (an empty assets folder)."""
    from mixformerv2.model import hub as pretrained

    monkeypatch.setattr(pretrained, "ASSETS", tmp_path_factory.mktemp("empty-assets"))
    monkeypatch.delenv(pretrained.weights_env_var(pretrained.DEFAULT_MODEL), raising=False)
    return pretrained.ASSETS


@pytest.fixture
def default_model(monkeypatch, tmp_path_factory):
    """A tiny random-weights default model installed in a temporary assets folder (weights and model card),
    like the package ships it. Returns the weights path; the card is ``path.with_suffix('.json')``."""
    import json

    import torch

    from mixformerv2 import build_model, save_checkpoint
    from mixformerv2.model import hub as pretrained

    assets = tmp_path_factory.mktemp("assets")
    torch.manual_seed(0)
    save_checkpoint(build_model(TINY_DEFAULT).eval(), assets / "default.safetensors")
    card = json.loads((pretrained.ASSETS / "default.json").read_text())     # the shipped card's settings
    card["weights_sha256"] = pretrained.file_sha256(assets / "default.safetensors")
    (assets / "default.json").write_text(json.dumps(card))
    monkeypatch.setattr(pretrained, "ASSETS", assets)
    monkeypatch.delenv(pretrained.weights_env_var(pretrained.DEFAULT_MODEL), raising=False)
    return assets / "default.safetensors"


@pytest.fixture
def tiny_weights_file(tmp_path_factory):
    """Tiny random weights (not installed as the default model)."""
    import torch

    from mixformerv2 import build_model, save_checkpoint

    path = tmp_path_factory.mktemp("weights") / "tiny.safetensors"
    torch.manual_seed(1)
    save_checkpoint(build_model(TINY_DEFAULT).eval(), path)
    return path
