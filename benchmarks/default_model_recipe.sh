#!/usr/bin/env bash
# Train a model the way the bundled default model was made, then report on it
# (benchmarks/default_model.py). Three stages, all on ../shared/data/e2e/train.csv:
#   1. the e2e-small preset for 1,500 steps: the word embeddings settle;
#   2. resume to 6,000 steps with --freeze-embeddings (the control classifiers are trained on these
#      embeddings, so they stay valid for everything that follows);
#   3. --init-from stage 2 with --self-condition, 20,000 more steps, embeddings still frozen.
# The shipped model's exact history is in plugins/dlmctl-e2e/dlmctl_e2e/model/config.json
# ("command", "resumed", "init_from"): its stage 3 first ran on a 12,000-step schedule, was stopped at
# step 10,500 and resumed on a 20,000-step one (the learning rate rose from 9e-5 to 3e-4 there).
#
#   bash benchmarks/default_model_recipe.sh [OUT_PREFIX] [PROCESSES]
#
# On the 2-core CPU this takes ~3 h (stage 3 at ~2.4 steps/s with 2 processes); on a GPU, minutes.
set -euo pipefail
out=${1:-runs/recipe}
procs=${2:-1}
data=${DLMCTL_E2E_DIR:-../shared/data/e2e}
if [ "$procs" -gt 1 ]; then run=(torchrun --standalone --nproc_per_node "$procs" -m dlmctl); else run=(dlmctl); fi
common=(--data "$data/train.csv" --valid "$data/valid.csv" --save-every 500)
start=$(date +%s)
"${run[@]}" train --preset e2e-small --steps 1500 --out "$out-base" "${common[@]}"
"${run[@]}" train --resume --steps 6000 --freeze-embeddings --out "$out-base" "${common[@]}"
"${run[@]}" train --init-from "$out-base" --self-condition --freeze-embeddings --lr 7e-4 --warmup 200 \
    --ema 0.999 --steps 20000 --out "$out-sc" "${common[@]}"
echo "training took $(( $(date +%s) - start )) s on $(nproc) CPU cores ($(uname -m)), $(date -u +%FT%TZ)"
python "$(dirname "$0")/default_model.py" --model "$out-sc" --data "$data" --out "$out-sc/report.json"
