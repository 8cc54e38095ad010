#!/usr/bin/env bash
# Train a Diffusion-LM on the E2E training split for a step budget, then report held-out loss terms,
# rounding accuracy, unguided samples, distinct-n and sampling speed (benchmarks/default_model.py).
#
#   bash benchmarks/train_e2e.sh [STEPS] [OUT_DIR] [PRESET]
#
# The bundled model was made this way with STEPS=6000 on a shared 2-core CPU (see its config.json).
set -euo pipefail
steps=${1:-2000}
out=${2:-runs/e2e-bench}
preset=${3:-e2e-small}
data=${DLMCTL_E2E_DIR:-../shared/data/e2e}
start=$(date +%s)
if [ -f "$out/train_state.pt" ]; then resume=--resume; else resume=; fi
dlmctl train --preset "$preset" --data "$data/train.csv" --valid "$data/valid.csv" --out "$out" --steps "$steps" $resume
echo "training took $(( $(date +%s) - start )) s on $(nproc) CPU cores ($(uname -m)), $(date -u +%FT%TZ)"
python "$(dirname "$0")/default_model.py" --model "$out" --data "$data" --samples 128 --out "$out/report.json"
