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
