#!/usr/bin/env bash
# Creates .venv/ beside the project and installs the project into it (idempotent: a second run with an
# unchanged pyproject.toml does nothing). torch is pinned to the CPU build first so that no dependency
# can pull a CUDA build.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
stamp=.venv/.installed
want=$(cat pyproject.toml scripts/bootstrap.sh | sha256sum | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    exit 0
fi
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check torch==2.13.0
# The optional openvino-bf16 backend and the app are installed too, so that their tests run here and in CI.
.venv/bin/python -m pip install -q --disable-pip-version-check -e ".[test,openvino,app]"
echo "$want" > "$stamp"
