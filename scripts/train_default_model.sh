#!/usr/bin/env bash
# Retrain the project's default model (src/mixformerv2/assets/default.safetensors) on a CPU, then install it.
# Run from the repository root after scripts/bootstrap.sh, with ../shared beside the repository (the real
# annotated sequences in ../shared/data/real and NanoTrack in ../shared/models/nanotrack).
#
#   bash scripts/train_default_model.sh                    # the last stages, from the stored conv-stem student
#   FROM_SCRATCH=1 bash scripts/train_default_model.sh     # every stage, the synthetic ones first (about 7 h)
#   STAGES="real_conv_stem_unfrozen_score" bash scripts/train_default_model.sh   # some stages (resumes a stage begun)
#
# Stages (configs/default/): teacher -> dense_to_sparse -> score train the synthetic-data student (3.4 h on
# 2 cores; stored as checkpoints/default/synthetic_student.safetensors); real_dense_to_sparse fine-tunes it on
# real video with NanoTrack as the teacher (1 h; stored as checkpoints/default/real_student_64_128.safetensors);
# real_conv_stem gives that model NanoTrack V3's trained MobileNetV3 backbone as its patch embedding, at crops
# 112/224, and trains it on real video with NanoTrack as the teacher (about 1 h; stored as
# checkpoints/default/real_conv_stem_student.safetensors); real_conv_stem_tracking_jitter and
# real_conv_stem_tracking_jitter2 train it further with a share of tracking-like search crops (0.7 h each);
# real_conv_stem_unfrozen trains the stem too, at the blocks' rate, with real and synthetic pairs 1 : 1 (0.6 h);
# real_conv_stem_unfrozen_score retrains the score head (a few minutes). Each student stage keeps the epoch with
# the best tracking AUC on the real validation split.
#
# The photos of the synthetic data: scikit-image's bundled photos plus the wallpapers of these Debian packages
# (the "system" photo source reads /usr/share/backgrounds and /usr/share/wallpapers). Without them training
# still runs on scikit-image's 18 photos alone.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PY:-.venv/bin/python}
if [ "${FROM_SCRATCH:-0}" = "1" ]; then
    STAGES=${STAGES:-"teacher dense_to_sparse score real_dense_to_sparse real_conv_stem real_conv_stem_tracking_jitter real_conv_stem_tracking_jitter2 real_conv_stem_unfrozen real_conv_stem_unfrozen_score"}
else
    STAGES=${STAGES:-"real_conv_stem_tracking_jitter real_conv_stem_tracking_jitter2 real_conv_stem_unfrozen real_conv_stem_unfrozen_score"}
fi
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
    extra=()
    [ -f "$out/checkpoints/last.pth" ] && [ ! -f "$out/model.pth" ] && extra+=(--resume)
    if [ -f "$out/model.pth" ]; then
        echo "stage $stage: $out/model.pth exists, skipped"
        continue
    fi
    # From scratch, the real-data fine-tune starts from this run's synthetic student, not the stored one.
    if [ "$stage" = real_dense_to_sparse ] && [ "${FROM_SCRATCH:-0}" = "1" ]; then
        extra+=("init.weights=runs/default/score/model.pth")
    fi
    if [ "$stage" = real_conv_stem ] && [ "${FROM_SCRATCH:-0}" = "1" ]; then
        extra+=("init.weights=runs/default/real_dense_to_sparse/model_best.pth")
    fi
    if [ "$stage" = real_conv_stem_tracking_jitter ] && [ "${FROM_SCRATCH:-0}" = "1" ]; then
        extra+=("init.weights=runs/default/real_conv_stem/model_best.pth")
    fi
    mkdir -p "$out"
    "$PY" -m mixformerv2 train "configs/default/$stage.yaml" "${extra[@]}" --no-progress 2>&1 | tee -a "$out.log"
done

# Tracker settings chosen by the mean AUC over two validation sets, never on ../shared/data/sequences: the real
# validation split (DAVIS-2016 val) and 30 synthetic sequences of the held-out photos (seed 1; the synthetic test
# reported in the model card is seed 0). Search factors 3.5, 4.5 and 5.0, update interval 10 and size update rate
# 0.5 lost in the earlier sweeps (configs/default/TRAINING_LOG.md), so they are no longer swept. The size filter (a
# size update rate of 1 and a size filter noise above 0) is swept beside the fixed size update rate 0.3 (6
# combinations, about 9 minutes).
[ -f runs/default/synthetic-val1/testing_set.txt ] || "$PY" -m mixformerv2 synthetic runs/default/synthetic-val1 \
    --split test --sequences 30 --seed 1 --config configs/default/synthetic_test.yaml
"$PY" scripts/choose_tracker_settings.py runs/default/real_conv_stem_unfrozen_score/model.pth \
    --dataset sequences --root ../shared/data/real/val --dataset lasot --root runs/default/synthetic-val1 \
    --search-factor 4.0 --update-interval 200 --size-update-rate 1.0 0.3 \
    --size-filter-noise 0 0.015 0.02 0.025 0.03 --backend onnx \
    --json runs/default/tracker_settings.json | tee runs/default/tracker_settings.log
best=$(tail -n 1 runs/default/tracker_settings.log | sed -E 's/.*(--search-factor [0-9.]+ --update-interval [0-9]+ --size-update-rate [0-9.]+ --size-filter-noise [0-9.e-]+).*/\1/')
# shellcheck disable=SC2086
"$PY" scripts/ship_default_model.py runs/default/real_conv_stem_unfrozen_score/model.pth --half $best
