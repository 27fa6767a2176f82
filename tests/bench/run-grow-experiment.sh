#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# run-grow-experiment.sh: the lecture's growth experiment. Start from an MLP with 2 neurons per
# hidden layer (and a CNN with 2 channels per conv layer), grow to a parameter budget with TINY,
# GradMax and random growth, and train fixed-size networks from scratch at several sizes for
# the same number of epochs as the TINY run; 3 seeds, Fashion-MNIST and the digits.
#
# Usage: run-grow-experiment.sh FRUGAL_BIN
# Environment: OUT_DIR (a temp dir), SEEDS ("1 2 3"), DATASETS ("fashion-mnist digits"),
#   ARCHS ("mlp cnn"), TRAIN_LIMIT (5000: Fashion-MNIST training samples, for speed),
#   TEST_LIMIT (2000), RECIPE (a recipe whose [train] settings every run takes, e.g. the
#   optimizer; the options above override its [data] and [grow]), EPOCHS_PER_STEP (1), FINAL_EPOCHS (15: after the last growth step the
#   grown network trains this many more epochs with a cosine-decaying learning rate; every
#   fixed-size network gets the same total epochs, its learning rate decaying over the last
#   all-but-one; 0 = the session-2 protocol, constant learning rate throughout),
#   SUMMARY_ONLY (set: no runs, summarise OUT_DIR's grow-experiment.csv and grow-compute.csv
#   as they are, e.g. two halves of the seeds run side by side, concatenated).
# Reduced so that it fits in minutes on a loaded 2-core machine: 5000 Fashion-MNIST training
# samples (the digits: its 4000), 2000 test samples, one epoch per growth step; every run
# (grown or fixed) trains with frugal grow's defaults: AdamW, learning rate 3e-3, decoupled
# weight decay 0.5, batch 64.
# Writes OUT_DIR/grow-experiment.csv (every growth point of every run), and prints a summary:
# per dataset, architecture and method the final parameters and test accuracy (mean +- sd
# over seeds), and the fixed-size networks' accuracy vs parameters.
set -u
export LANG=C.UTF-8

FRUGAL=${1:-}
if [ -z "$FRUGAL" ] || [ ! -x "$FRUGAL" ]; then
  echo "usage: $0 FRUGAL_BIN (the built frugal program)" >&2
  exit 2
fi
SEEDS=${SEEDS:-"1 2 3"}
DATASETS=${DATASETS:-"fashion-mnist digits"}
ARCHS=${ARCHS:-"mlp cnn"}
TRAIN_LIMIT=${TRAIN_LIMIT:-5000}
TEST_LIMIT=${TEST_LIMIT:-2000}
EPS=${EPOCHS_PER_STEP:-1}
FE=${FINAL_EPOCHS:-15}
OUT_DIR=${OUT_DIR:-$(mktemp -d /tmp/grow-experiment-XXXXXX)}
mkdir -p "$OUT_DIR"
ALL="$OUT_DIR/grow-experiment.csv"
COST="$OUT_DIR/grow-compute.csv"
if [ -z "${SUMMARY_ONLY:-}" ]; then
  : > "$ALL"
  : > "$COST"
fi

budget () {   # dataset arch
  case "$1:$2" in
    fashion-mnist:mlp) echo 20000 ;;
    digits:mlp) echo 10000 ;;
    *:cnn) echo 6000 ;;
  esac
}
fixed_widths () {   # arch
  case "$1" in
    mlp) echo "4 8 12 16 24" ;;
    cnn) echo "2 4 8 12" ;;
  esac
}

run () {   # label dataset arch seed args...
  label=$1 ds=$2 arch=$3 seed=$4
  shift 4
  dir="$OUT_DIR/$ds-$arch-$label-s$seed"
  rm -rf "$dir"
  if ! "$FRUGAL" grow --quiet --data "$ds" --arch "$arch" --seed "$seed" --threads 1 \
         --train-limit "$TRAIN_LIMIT" --test-limit "$TEST_LIMIT" \
         --out "$dir" --csv "$@" ${RECIPE:+"$RECIPE"} > "$dir.csv" 2> "$dir.log"; then
    echo "FAILED: $label $ds $arch seed $seed (see $dir.log)" >&2
    return 1
  fi
  # prefix every row with dataset,arch,label,seed; the fixed-size baseline of a TINY run
  # becomes one more row
  # (growth.csv's own fixed-size rows are left out: they become rows of their own below)
  tail -n +2 "$dir.csv" | grep -v '^fixed (' | sed "s/^/$ds,$arch,$label,$seed,/" >> "$ALL"
  if [ -f "$dir/summary.json" ] && grep -q '"fixed_test_accuracy" : [0-9]' "$dir/summary.json"; then
    p=$(sed -n 's/.*"params" : \([0-9]*\).*/\1/p' "$dir/summary.json")
    a=$(sed -n 's/.*"fixed_test_accuracy" : \([0-9.e-]*\).*/\1/p' "$dir/summary.json")
    echo "$ds,$arch,$label-fixed,$seed,fixed,0,$p,$a" >> "$ALL"
    # and the fixed-size network trained for the grown run's training compute
    ac=$(sed -n 's/.*"fixed_compute_test_accuracy" : \([0-9.e-]*\).*/\1/p' "$dir/summary.json")
    [ -n "$ac" ] && echo "$ds,$arch,$label-fixedc,$seed,fixedc,0,$p,$ac" >> "$ALL"
    # compute: the grown run's training GFLOP and the fixed-size network's, seconds of growth
    # statistics, of the grown run's training, of the fixed-size network's training
    c=""
    for k in train_gflops fixed_train_gflops grow_seconds train_seconds fixed_seconds; do
      c="$c,$(sed -n "s/.*\"$k\" : \([0-9.e+-]*\).*/\1/p" "$dir/summary.json")"
    done
    echo "$ds,$arch,$label,$seed$c" >> "$COST"
  fi
}

t0=$(date +%s)
[ -n "${SUMMARY_ONLY:-}" ] || for ds in $DATASETS; do
  for arch in $ARCHS; do
    b=$(budget "$ds" "$arch")
    for seed in $SEEDS; do
      run tiny "$ds" "$arch" "$seed" --method tiny --budget "$b" --epochs-per-step "$EPS" \
          --final-epochs "$FE"
      # total epochs of the TINY run
      n=$(sed -n 's/.*"epochs" : \([0-9]*\).*/\1/p' "$OUT_DIR/$ds-$arch-tiny-s$seed/summary.json")
      # TINY adding the neurons only (no dW* on the existing weights), with its own baseline
      run tiny-neurons "$ds" "$arch" "$seed" --method tiny --budget "$b" --neurons-only \
          --epochs-per-step "$EPS" --final-epochs "$FE"
      run gradmax "$ds" "$arch" "$seed" --method gradmax --budget "$b" --no-fixed \
          --epochs-per-step "$EPS" --final-epochs "$FE"
      run random "$ds" "$arch" "$seed" --method random --budget "$b" --no-fixed \
          --epochs-per-step "$EPS" --final-epochs "$FE"
      for w in $(fixed_widths "$arch"); do
        # a fixed network: no growth step, trained for the TINY run's number of epochs
        if [ "$FE" -gt 0 ]; then
          run "fixed-w$w" "$ds" "$arch" "$seed" --start "$w" --steps 0 --no-fixed \
              --epochs-per-step 1 --final-epochs $((n - 1))
        else
          run "fixed-w$w" "$ds" "$arch" "$seed" --start "$w" --steps 0 --no-fixed \
              --epochs-per-step "$n"
        fi
      done
      echo "$ds $arch seed $seed done ($(( $(date +%s) - t0 )) s)" >&2
    done
  done
done

echo "rows: $ALL"
echo
echo "final point of each run: mean (sd) over seeds"
echo "dataset        arch method       params      test acc %"
awk -F, '
  # columns: ds,arch,label,seed,method,step,params,test_acc,...
  { key = $1 " " $2 " " $3 " " $4; last_p[key] = $7; last_a[key] = $8 }
  END {
    for (k in last_p) {
      split (k, f, " "); g = f[1] " " f[2] " " f[3];
      n[g]++; sp[g] += last_p[k]; sa[g] += last_a[k]; sa2[g] += last_a[k] ^ 2
    }
    for (g in n) {
      m = sa[g] / n[g]; v = sa2[g] / n[g] - m * m; if (v < 0) v = 0;
      split (g, f, " ");
      printf "%-14s %-4s %-12s %7.0f   %5.1f (%.1f)  n=%d\n", f[1], f[2], f[3], sp[g] / n[g],
             100 * m, 100 * sqrt (v * n[g] / (n[g] > 1 ? n[g] - 1 : 1)), n[g]
    }
  }' "$ALL" | sort
echo
echo "paired: grown minus the fixed-size network of its final size, same seed, trained for the"
echo "same epochs (-fixed) and for the same training compute (-fixedc); mean (standard error)"
awk -F, '
  { key = $1 " " $2 " " $3 " " $4; last[key] = $8 }
  END {
    for (k in last) {
      split (k, f, " ");
      if (f[3] ~ /fixed/) continue;
      for (v = 1; v <= 2; v++) {
        suffix = v == 1 ? "-fixed" : "-fixedc";
        fk = f[1] " " f[2] " " f[3] suffix " " f[4];
        if (!(fk in last)) continue;
        d = last[k] - last[fk]; g = f[1] " " f[2] " " f[3] "-vs" suffix;
        n[g]++; s[g] += d; s2[g] += d * d
      }
    }
    for (g in n) {
      m = s[g] / n[g]; v = n[g] > 1 ? (s2[g] - n[g] * m * m) / (n[g] - 1) : 0; if (v < 0) v = 0;
      split (g, f, " ");
      printf "%-14s %-4s %-26s %+5.2f (%.2f)  n=%d\n", f[1], f[2], f[3], 100 * m,
             100 * sqrt (v / n[g]), n[g]
    }
  }' "$ALL" | sort
echo
echo "compute, mean over seeds: training GFLOP of the grown run / of the fixed-size network,"
echo "seconds of growth statistics, of the grown run's training, of the fixed-size network's"
awk -F, '
  { g = $1 " " $2 " " $3; n[g]++; a[g] += $5; b[g] += $6; c[g] += $7; d[g] += $8; e[g] += $9 }
  END {
    for (g in n) {
      split (g, f, " ");
      printf "%-14s %-4s %-12s %6.2f / %6.2f GFLOP (%3.0f%%)  %5.2f s + %5.2f s vs %5.2f s\n",
             f[1], f[2], f[3], a[g] / n[g], b[g] / n[g], 100 * a[g] / b[g], c[g] / n[g],
             d[g] / n[g], e[g] / n[g]
    }
  }' "$COST" | sort
# the figure: one panel per dataset and net, final test accuracy against parameters, every
# method's runs at their mean parameter count (mean +- sd over seeds), the uniform fixed
# networks as a line
FIG_SPECS=""
for ds in $DATASETS; do
  for arch in $ARCHS; do
    f="$OUT_DIR/final-$ds-$arch.csv"
    awk -F, -v ds="$ds" -v arch="$arch" '
      $1 == ds && $2 == arch && $3 !~ /-fixedc$/ { key = $3 " " $4; p[key] = $7; a[key] = $8 }
      END {
        for (k in p) { split (k, f, " "); n[f[1]]++; sp[f[1]] += p[k] }
        print "method,params,test_acc"
        # the legend in this order: growth methods, then the fixed-size networks
        split ("tiny tiny-neurons gradmax random tiny-fixed fixed", order, " ");
        split ("TINY|TINY neurons only|GradMax|random|fixed at TINY size|fixed uniform", names, "|");
        for (o = 1; o <= 6; o++)
          for (k in p) {
            split (k, f, " "); l = f[1];
            if (order[o] == "fixed" ? l !~ /^fixed-w/ : l != order[o]) continue;
            x = l ~ /^fixed-w/ ? p[k] : sprintf ("%.0f", sp[l] / n[l]);
            print names[o] "," x "," a[k]
          }
      }' "$ALL" > "$f"
    case "$ds" in fashion-mnist) dn="Fashion-MNIST" ;; *) dn="$ds" ;; esac
    FIG_SPECS="$FIG_SPECS|$f: x=params, y=test_acc, series=method, title=$dn $(echo "$arch" | tr a-z A-Z)"
  done
done
FIG="$OUT_DIR/grow-experiment.png"
(IFS='|'; set -f; set -- ${FIG_SPECS#|};
 "$FRUGAL" lecture plot "$@" --figure "$FIG" --size 1920x1080 \
   --title "Growing vs fixed-size networks: final test accuracy (mean, sd over seeds)" > /dev/null) \
  && echo "figure: $FIG" || echo "figure: not drawn (frugal lecture plot failed)" >&2

echo
echo "total: $(( $(date +%s) - t0 )) s"
