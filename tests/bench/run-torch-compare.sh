#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# run-torch-compare.sh: `frugal bench` against ../shared/bench/torch_fmnist.py on this machine.
#
# Usage: run-torch-compare.sh FRUGAL_BIN
# Environment: REPEATS (3), MODELS ("mlp lenet cnn"), THREADS ("1 2"), EPOCHS (script default:
# mlp/lenet 3, cnn 2), TORCH_SCRIPT (/work/shared/bench/torch_fmnist.py or
# $FW_SOURCE_ROOT/../shared/bench/torch_fmnist.py), FMNIST_DIR, OUT_DIR (a temp dir).
# For each model and thread count it runs the two programs alternately, one process per repeat
# (seed 1234 + repeat), collects their JSON lines and prints medians and torch/frugal ratios.
# Exit 77 (skipped) when python3-torch or Fashion-MNIST is missing.
set -u
export LANG=C.UTF-8

FRUGAL=${1:-}
if [ -z "$FRUGAL" ] || [ ! -x "$FRUGAL" ]; then
  echo "usage: $0 FRUGAL_BIN (the built frugal program)" >&2
  exit 2
fi
PY=/usr/bin/python3
REPEATS=${REPEATS:-3}
MODELS=${MODELS:-"mlp lenet cnn"}
THREADS=${THREADS:-"1 2"}
FMNIST_DIR=${FMNIST_DIR:-/usr/share/datasets/fashion-mnist}

here=$(cd "$(dirname "$0")" && pwd)
if [ -z "${TORCH_SCRIPT:-}" ]; then
  for c in /work/shared/bench/torch_fmnist.py "$here/../../../shared/bench/torch_fmnist.py" \
           "${FW_SOURCE_ROOT:-.}/../shared/bench/torch_fmnist.py"; do
    if [ -f "$c" ]; then TORCH_SCRIPT=$c; break; fi
  done
fi
if [ -z "${TORCH_SCRIPT:-}" ] || [ ! -f "$TORCH_SCRIPT" ]; then
  echo "SKIP: torch_fmnist.py not found (set TORCH_SCRIPT=/path/to/torch_fmnist.py)" >&2
  exit 77
fi
if ! "$PY" -c 'import torch, numpy' 2>/dev/null; then
  echo "SKIP: PyTorch is not installed for $PY." >&2
  echo "      Install it with: apt-get install -y python3-torch python3-numpy" >&2
  exit 77
fi
if [ ! -f "$FMNIST_DIR/train-images-idx3-ubyte.gz" ]; then
  echo "SKIP: Fashion-MNIST not found in $FMNIST_DIR: apt-get install -y dataset-fashion-mnist" >&2
  exit 77
fi

OUT_DIR=${OUT_DIR:-$(mktemp -d /tmp/torch-compare-XXXXXX)}
mkdir -p "$OUT_DIR"
F_JSON=$OUT_DIR/frugal.jsonl
T_JSON=$OUT_DIR/torch.jsonl
: > "$F_JSON"
: > "$T_JSON"
echo "results in $OUT_DIR (torch: $TORCH_SCRIPT)"

status=0
for model in $MODELS; do
  for t in $THREADS; do
    rep=0
    while [ "$rep" -lt "$REPEATS" ]; do
      seed=$((1234 + rep))
      ep=""
      [ -n "${EPOCHS:-}" ] && ep="--epochs $EPOCHS"
      echo "== $model threads $t repeat $((rep + 1))/$REPEATS: frugal, then torch"
      # shellcheck disable=SC2086
      "$FRUGAL" bench --model "$model" --threads "$t" --repeats 1 --seed "$seed" $ep \
        --data "$FMNIST_DIR" --out "$F_JSON" > "$OUT_DIR/frugal-$model-$t-$rep.log" 2>&1
      rc=$?
      if [ "$rc" -eq 3 ]; then
        echo "   frugal: other processes interfered (kept, see foreign_cores)"
      elif [ "$rc" -ne 0 ]; then
        echo "   frugal failed ($rc):"; tail -n 5 "$OUT_DIR/frugal-$model-$t-$rep.log"; status=1
      fi
      # shellcheck disable=SC2086
      env -u OPENBLAS_NUM_THREADS -u OMP_NUM_THREADS "$PY" "$TORCH_SCRIPT" --model "$model" \
        --threads "$t" --repeats 1 --seed "$seed" $ep --data "$FMNIST_DIR" --out "$T_JSON" \
        > "$OUT_DIR/torch-$model-$t-$rep.log" 2>&1
      rc=$?
      if [ "$rc" -eq 3 ]; then
        echo "   torch: other processes interfered (kept, see foreign_cores)"
      elif [ "$rc" -ne 0 ]; then
        echo "   torch failed ($rc):"; tail -n 5 "$OUT_DIR/torch-$model-$t-$rep.log"; status=1
      fi
      rep=$((rep + 1))
    done
  done
done

"$PY" - "$F_JSON" "$T_JSON" <<'PYEOF'
import json
import statistics
import sys


def load(path):
    recs = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line:
                recs.append(json.loads(line))
    return recs


def summarise(recs):
    """(model, threads) -> dict of medians"""
    out = {}
    for r in recs:
        if r.get("kind") == "meta":
            continue
        key = (r["model"], r["threads"])
        d = out.setdefault(key, {"epoch": [], "acc": [], "lat": [], "thr": [], "fo": []})
        if r["kind"] == "epoch":
            d["epoch"].append(r["seconds"])
            d["fo"].append(r.get("foreign_cores") or 0.0)
        elif r["kind"] == "train":
            d["acc"].append(r["test_acc"])
        elif r["kind"] == "infer":
            d["lat"].append(r["latency_b1_us_median"])
            d["thr"].append(r["throughput_b1000_img_s"])
            d["fo"].append(max(r.get("foreign_cores_latency") or 0.0,
                               r.get("foreign_cores_throughput") or 0.0))
    med = {}
    for key, d in out.items():
        med[key] = {k: (statistics.median(v) if v else float("nan")) for k, v in d.items()
                    if k != "fo"}
        med[key]["fo"] = max(d["fo"]) if d["fo"] else 0.0
        med[key]["n"] = len(d["acc"]) or len(d["lat"])
    return med


fr = summarise(load(sys.argv[1]))
to = summarise(load(sys.argv[2]))


def ratio(a, b):
    return a / b if b and b == b and a == a else float("nan")


print()
print("medians; ratio = torch / frugal (s/epoch and latency: > 1 means frugal is faster; "
      "throughput: < 1 means frugal is faster)")
hdr = ("model", "thr", "side", "s/epoch", "test acc", "lat b1 us", "img/s b1000", "max foreign")
print("%-6s %3s %-7s %9s %9s %10s %12s %11s" % hdr)
order = {"mlp": 0, "lenet": 1, "cnn": 2}
for key in sorted(set(fr) | set(to), key=lambda k: (order.get(k[0], 9), k[1])):
    f = fr.get(key)
    t = to.get(key)
    for side, d in (("frugal", f), ("torch", t)):
        if d is None:
            continue
        print("%-6s %3d %-7s %9.3f %9.4f %10.1f %12.0f %11.2f" % (key[0], key[1], side, d["epoch"],
              d["acc"], d["lat"], d["thr"], d["fo"]))
    if f and t:
        print("%-6s %3d %-7s %9.2f %9.3f %10.2f %12.2f" % (key[0], key[1], "ratio",
              ratio(t["epoch"], f["epoch"]), ratio(t["acc"], f["acc"]), ratio(t["lat"], f["lat"]),
              ratio(t["thr"], f["thr"])))
PYEOF
exit $status
