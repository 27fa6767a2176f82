#!/bin/sh
# prune-experiment.sh: the pruning targets of issue #6, measured end to end on Fashion-MNIST.
#   sh tests/bench/prune-experiment.sh [FRUGAL] [OUT]      (FRUGAL defaults to build/app/frugal)
# 1. LeNet-300-100, 10 epochs, magnitude pruning to 90% in 5 cubic steps with 2 fine-tuning
#    epochs each (resources/recipes/prune-lenet300-fmnist.ini): unstructured (CSR) and in 1 x 8
#    blocks (block CSR). Target: at most 1 point of test accuracy lost.
# 2. The lottery ticket (resources/recipes/prune-lottery-fmnist.ini, reduced: 20000 images,
#    4 epochs per training, 3 seeds): 15% of the weights rewound to init vs the same mask from a
#    random re-initialisation.
# 3. frugal compare of the dense and pruned models as stored (bytes, batch-1 latency), and
#    bench-prune (dense vs pruned shapes timed in alternating rounds).
# About 20 minutes on one core. Needs dataset-fashion-mnist.
set -e
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
frugal=${1:-$root/build/app/frugal}
out=${2:-runs/prune-experiment}
bench=$(dirname "$frugal")/../tests/bench/bench-prune
export LANG=C.UTF-8 OPENBLAS_NUM_THREADS=1
mkdir -p "$out"

"$frugal" prune "$root/resources/recipes/prune-lenet300-fmnist.ini" --out "$out/csr"
"$frugal" prune "$root/resources/recipes/prune-lenet300-fmnist.ini" --granularity blocks \
  --out "$out/blocks"
"$frugal" run "$root/resources/recipes/prune-lottery-fmnist.ini" --out "$out/lottery"

mkdir -p "$out/shelf"
cp "$out/csr/base.safetensors" "$out/shelf/dense.safetensors"
cp "$out/csr/model.safetensors" "$out/shelf/pruned-90-csr.safetensors"
cp "$out/blocks/model.safetensors" "$out/shelf/pruned-90-blocks.safetensors"
"$frugal" compare -d fashion-mnist:test --md "$out/compare.md" "$out/shelf/dense.safetensors" \
  "$out/shelf/pruned-90-csr.safetensors" "$out/shelf/pruned-90-blocks.safetensors"
if [ -x "$bench" ]; then "$bench" 9; fi

echo
for d in csr blocks lottery; do
  echo "== $d: $out/$d/summary.json"
  grep -E '"(sparsity|base_test_acc|final_test_acc|ticket_test_acc_mean|ticket_test_acc_sd|random_test_acc_mean|random_test_acc_sd|model_bytes|dense_bytes)"' \
    "$out/$d/summary.json"
done
