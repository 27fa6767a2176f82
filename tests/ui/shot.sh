#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# shot.sh: start the workbench under Xvfb, wait for its window, take a screenshot of the screen.
#
#   tests/ui/shot.sh [BUILD_DIR] [OUT.png] [SETTLE_SECONDS]
#
# BUILD_DIR defaults to build, OUT.png to shot.png, SETTLE_SECONDS (time after the window shows,
# e.g. for the default dataset to load) to 2. Environment: GSK_RENDERER etc. pass through.
set -eu
build=${1:-build}
out=${2:-shot.png}
settle=${3:-2}
app="$build/app/frugal-workbench"
[ -x "$app" ] || { echo "shot.sh: $app not built" >&2; exit 1; }
command -v xvfb-run >/dev/null || { echo "shot.sh: xvfb-run missing (apt install xvfb xauth)" >&2; exit 1; }
command -v import >/dev/null || { echo "shot.sh: import missing (apt install imagemagick)" >&2; exit 1; }
command -v xwininfo >/dev/null || { echo "shot.sh: xwininfo missing (apt install x11-utils)" >&2; exit 1; }

export LANG=C.UTF-8 GTK_A11Y=none
# llvmpipe GL under Xvfb needs seconds for the first frames; Cairo is quick and deterministic
export GSK_RENDERER="${GSK_RENDERER:-cairo}"
case "$out" in /*) ;; *) out="$PWD/$out" ;; esac

xvfb-run -a -s '-screen 0 1280x800x24' sh -c '
  "$0" & pid=$!
  i=0
  until xwininfo -root -tree 2>/dev/null | grep -q "Frugal Workbench"; do
    i=$((i + 1))
    if [ $i -gt 200 ] || ! kill -0 $pid 2>/dev/null; then
      echo "shot.sh: no window after 20 s" >&2; kill $pid 2>/dev/null; exit 1
    fi
    sleep 0.1
  done
  sleep "$2"
  import -window root "$1"
  kill $pid
  wait $pid 2>/dev/null || true
' "$app" "$out" "$settle"
echo "$out"
