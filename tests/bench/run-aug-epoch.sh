#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# run-aug-epoch.sh FRUGAL [ROUNDS]: one Fashion-MNIST epoch of the default MLP (batch 128,
# 1 thread) without and with on-the-fly augmentation (rotate, translate, scale, elastic),
# alternating, ROUNDS times (default 5); prints the median epoch time of each and their ratio
# (target: <= 1.3). Also the per-image cost of that pipeline (target: < 20 us).
set -eu
frugal=$1
rounds=${2:-5}
pipeline='rotate:deg=15;translate:px=2;scale:min=0.9,max=1.1;elastic:alpha=8,sigma=3'
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

for kind in plain aug; do
  {
    printf '[data]\ndataset = fashion-mnist\ntest = none\nval_fraction = 0\n'
    [ "$kind" = aug ] && printf 'augment = %s\n' "$pipeline"
    printf '[model]\narch = mlp\n[train]\nepochs = 1\nbatch = 128\n'
    printf '[output]\nsave_model = false\n[run]\nseed = 1\nthreads = 1\n'
  } > "$dir/$kind.ini"
done

# seconds of the one epoch, from summary.json's train_seconds
epoch_seconds () {
  out="$dir/run-$1-$2"
  "$frugal" run --out "$out" "$dir/$1.ini" > /dev/null 2>&1
  sed -n 's/.*"train_seconds" *: *\([0-9.eE+-]*\).*/\1/p' "$out/summary.json" | head -n 1
}

i=1
while [ "$i" -le "$rounds" ]; do
  echo "plain $(epoch_seconds plain "$i")" >> "$dir/times"
  echo "aug $(epoch_seconds aug "$i")" >> "$dir/times"
  i=$((i + 1))
done

median () {
  grep "^$1 " "$dir/times" | cut -d' ' -f2 | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}
p=$(median plain)
a=$(median aug)
printf 'epoch without augmentation: median %.3f s over %s rounds\n' "$p" "$rounds"
printf "epoch with '%s': median %.3f s\n" "$pipeline" "$a"
awk -v a="$a" -v p="$p" 'BEGIN { printf "ratio augmented / plain: %.2f (target <= 1.3)\n", a / p }'
OPENBLAS_NUM_THREADS=1 "$frugal" augment --data sim:50 --pipeline "$pipeline" --time | tail -n 1
