#!/usr/bin/env bash
# Everything a lent GPU machine should measure, in one go (about 10 minutes on an H200):
# GPU tests, then the full `act` preset on a generated real-size dataset (two 480x640 cameras)
# from video and from the frame cache, bf16 autocast, reporting steps/s, data-wait share and peak
# GPU memory. Output: JSON files in ${OUT:-/tmp/bricobot-gpu}. Set up the venv first as the README says
# (with the CUDA build of torch).
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${OUT:-/tmp/bricobot-gpu}
mkdir -p "$out"
py=${PYTHON:-.venv/bin/python}
nvidia-smi --query-gpu=name,memory.total --format=csv | tee "$out/gpu.txt"
$py -m pytest -m gpu -q tests/training/test_gpu.py 2>&1 | tee "$out/gpu_tests.txt"
[ -d "$out/real10" ] || $py scripts/bench/make_dataset.py --root "$out/real10" --episodes 10 --seconds 20 > "$out/make_dataset.json"
$py scripts/bench/train.py --root "$out/real10" --policy act --steps 300 --device cuda \
    trainer.amp=true > "$out/train_act.json"
$py scripts/bench/train.py --root "$out/real10" --policy diffusion --steps 200 --device cuda \
    --sources cache trainer.amp=true > "$out/train_diffusion.json"
cat "$out"/train_*.json
