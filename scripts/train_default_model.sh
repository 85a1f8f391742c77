#!/usr/bin/env bash
# Retrain the project's default model (src/mixformerv2/assets/default.safetensors) from nothing, on a CPU,
# with no downloaded data, then install it. Run from the repository root after scripts/bootstrap.sh.
#
#   bash scripts/train_default_model.sh            # every stage, then ship
#   STAGES="score" bash scripts/train_default_model.sh   # only some stages (resumes a stage already begun)
#
# The photos: scikit-image's bundled photos plus the wallpapers of these Debian packages (the "system"
# photo source reads /usr/share/backgrounds and /usr/share/wallpapers). Without them training still runs
# on scikit-image's 18 photos alone, but the model shipped was trained with them (176 photos in all).
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PY:-.venv/bin/python}
STAGES=${STAGES:-"teacher dense_to_sparse score"}
WALLPAPERS="gnome-backgrounds mate-backgrounds ukui-wallpapers sway-backgrounds lomiri-wallpapers plasma-workspace-wallpapers"

if [ "${SKIP_APT:-0}" != "1" ] && command -v apt-get >/dev/null; then
    missing=$(for p in $WALLPAPERS; do dpkg -s "$p" >/dev/null 2>&1 || echo "$p"; done)
    if [ -n "$missing" ]; then
        echo "installing wallpaper photos: $missing (SKIP_APT=1 to skip)"
        ${SUDO:-$( [ "$(id -u)" = 0 ] || echo sudo )} apt-get install -y --no-install-recommends $missing
    fi
fi

for stage in $STAGES; do
    out="runs/default/$stage"
    resume=()
    [ -f "$out/checkpoints/last.pth" ] && [ ! -f "$out/model.pth" ] && resume=(--resume)
    if [ -f "$out/model.pth" ]; then
        echo "stage $stage: $out/model.pth exists, skipped"
        continue
    fi
    mkdir -p "$out"
    "$PY" -m mixformerv2 train "configs/default/$stage.yaml" "${resume[@]}" --no-progress 2>&1 | tee -a "$out.log"
done

# Tracker settings chosen on the synthetic validation benchmark (never on the real sequences or the test split):
#   mixformerv2 synthetic /tmp/synth-val --split val --sequences 20 --seed 1 --config configs/default/synthetic_test.yaml
#   mixformerv2 eval --dataset lasot --root /tmp/synth-val --split all --weights runs/default/score/model.pth \
#       --search-factor F --update-interval N --results /tmp/val-F-N
# (2026-11-24, update interval 200: search factor 3.0/3.5/4.0/4.5/5.0 -> AUC 0.132/0.259/0.332/0.322/0.256;
#  at 4.5, update interval 25 -> 0.295.)
"$PY" scripts/ship_default_model.py runs/default/score/model.pth --half \
    --search-factor "${SEARCH_FACTOR:-4.0}" --update-interval "${UPDATE_INTERVAL:-200}"
