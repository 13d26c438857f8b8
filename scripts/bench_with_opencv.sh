#!/usr/bin/env bash
# convc bench next to OpenCV, on this machine, in one go.
#
# Usage (from anywhere; paths are relative to where you run it):
#
#   scripts/bench_with_opencv.sh [--size N] [--threads N] [--reps N]
#                                [--json FILE] [--plot FILE.svg] [other convc bench flags]
#
# Defaults: --size 4096 --threads 1 --reps 9 --json bench.json --plot bench.svg.
# Other flags (e.g. --backends generic,jit) go to `convc bench` unchanged.
#
# 1. Creates the virtual environment .venv-anchor at the workspace root if it is
#    missing (python3 -m venv, then pip install numpy opencv-python-headless), as the
#    header of ../shared/bench/opencv_anchor.py says. Set CONVC_ANCHOR to use another
#    copy of the anchor script.
# 2. Times OpenCV on the same workloads (same size, threads and reps) into a
#    temporary JSON.
# 3. Runs `cargo run --release -p convc-cli -- bench ... --opencv THAT.json`, which
#    prints both sets of rows (OpenCV's ratios are to its own copy floor, measured in
#    its own process) and writes the JSON and the chart.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
anchor="${CONVC_ANCHOR:-$root/../shared/bench/opencv_anchor.py}"
venv="$root/.venv-anchor"

size=4096
threads=1
reps=9
json=bench.json
plot=bench.svg
rest=()
need_value() {
    if [[ $# -lt 2 || -z "$2" ]]; then
        echo "error: $1 needs a value" >&2
        exit 1
    fi
}
while [[ $# -gt 0 ]]; do
    case "$1" in
        --size) need_value "$@"; size="$2"; shift 2 ;;
        --threads) need_value "$@"; threads="$2"; shift 2 ;;
        --reps) need_value "$@"; reps="$2"; shift 2 ;;
        --json) need_value "$@"; json="$2"; shift 2 ;;
        --plot) need_value "$@"; plot="$2"; shift 2 ;;
        --opencv) echo "error: --opencv is what this script provides; run convc bench directly to pass your own" >&2; exit 1 ;;
        -h|--help) sed -n '2,20p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) rest+=("$1"); shift ;;
    esac
done

if [[ ! -f "$anchor" ]]; then
    echo "error: the OpenCV anchor script is not at $anchor (set CONVC_ANCHOR)" >&2
    exit 1
fi

if [[ ! -x "$venv/bin/python" ]] || ! "$venv/bin/python" -c 'import numpy, cv2' 2>/dev/null; then
    echo "setting up $venv (numpy, opencv-python-headless) ..." >&2
    python3 -m venv "$venv"
    if ! "$venv/bin/pip" install --quiet numpy opencv-python-headless; then
        echo "error: pip could not install numpy and opencv-python-headless into $venv" >&2
        exit 1
    fi
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
cv_json="$tmp/opencv.json"

echo "== OpenCV (../shared/bench/opencv_anchor.py) ==" >&2
"$venv/bin/python" "$anchor" --size "$size" --threads "$threads" --reps "$reps" --json "$cv_json"

echo "== convc bench ==" >&2
cd_back="$PWD"
# cargo runs from the workspace; the output paths stay relative to the caller.
abs() { case "$1" in /*) echo "$1" ;; *) echo "$cd_back/$1" ;; esac; }
(cd "$root" && cargo run --quiet --release -p convc-cli -- bench \
    --size "$size" --threads "$threads" --reps "$reps" \
    --opencv "$cv_json" --json "$(abs "$json")" --plot "$(abs "$plot")" \
    ${rest[@]+"${rest[@]}"})
