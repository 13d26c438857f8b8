#!/usr/bin/env python3
"""Random end-to-end check of `convc apply` against numpy and scipy (not run by CI).

Usage (numpy and scipy are the only dependencies):

    python3 -m venv .venv-golden && .venv-golden/bin/pip install numpy scipy
    cargo build --release -p convc-cli
    .venv-golden/bin/python scripts/check_cli_against_scipy.py target/release/convc \\
        -n 300 --backend generic --backend naive

For each of N random cases (kernel sizes 1..7 including even ones, integer or float
taps, op, mode valid/same/full or explicit pads, every border, strides and
dilations 1..3 per axis, anchors, float32 or float64 images up to 40x50) the script
writes the input (and the kernel, when it is not given as a literal) as .npy, runs

    convc apply --kernel-file K.npy | --kernel '[[...]]'  --op ... --stride SYxSX
                --dilation DYxDX --mode ... | --pad T,B,L,R --border ... [--anchor AY,AX]
                --backend B INPUT.npy OUTPUT.npy

and compares the output with the expected one, computed in float64 by a plain
numpy implementation of DESIGN.md's definition (numpy.pad + sliding window) and,
wherever scipy has an equivalent (ndimage.correlate/convolve for same mode with
any stride and dilation via a dilated kernel and subsampling; signal.correlate2d/
convolve2d for valid/full with stride and dilation 1), cross-checked against
scipy first. The tolerance is DESIGN.md's bound
(taps + 1) * eps(dtype) * sum|k| * max|in| (the border constant included in max|in|).

Specs whose output would be empty must make convc exit with status 1 and an
`error:` message (not a crash). The first disagreement is printed with the command
line to reproduce it; the exit status is 1 if any case failed.
"""

import argparse
import os
import shlex
import subprocess
import sys
import tempfile

import numpy as np
import scipy.ndimage as ndi
import scipy.signal as sig

NUMPY_PAD = {
    "zero": "constant",
    "constant": "constant",
    "replicate": "edge",
    "reflect": "symmetric",
    "mirror": "reflect",
    "wrap": "wrap",
}
NDIMAGE_MODE = {
    "zero": "constant",
    "constant": "constant",
    "replicate": "nearest",
    "reflect": "reflect",
    "mirror": "mirror",
    "wrap": "wrap",
}
SIGNAL_BOUNDARY = {"zero": "fill", "constant": "fill", "wrap": "wrap", "reflect": "symm"}
EPS = {"f32": float(np.finfo(np.float32).eps), "f64": float(np.finfo(np.float64).eps)}


def pads_of(case):
    (kh, kw), (dy, dx) = case["kernel"].shape, case["dilation"]
    mode = case["mode"]
    if mode == "valid":
        return 0, 0, 0, 0
    if mode == "full":
        return (kh - 1) * dy, (kh - 1) * dy, (kw - 1) * dx, (kw - 1) * dx
    if mode == "explicit":
        return case["pads"]
    ay, ax = case["anchor"] if case["anchor"] is not None else (kh // 2, kw // 2)
    top, left = ay * dy, ax * dx
    bottom, right = (kh - 1) * dy - top, (kw - 1) * dx - left
    if case["op"] == "convolve":
        top, bottom, left, right = bottom, top, right, left
    return top, bottom, left, right


def output_shape(case):
    top, bottom, left, right = pads_of(case)
    (h, w), (kh, kw) = case["x"].shape, case["kernel"].shape
    (sy, sx), (dy, dx) = case["stride"], case["dilation"]
    ph, pw = h + top + bottom, w + left + right
    ey, ex = (kh - 1) * dy + 1, (kw - 1) * dx + 1
    if ph < ey or pw < ex:
        return None
    return (ph - ey) // sy + 1, (pw - ex) // sx + 1


def numpy_model(case):
    """DESIGN.md: out[y][x] = sum k'[m][n] * P[y*sy + m*dy][x*sx + n*dx], in float64."""
    k = case["kernel"][::-1, ::-1] if case["op"] == "convolve" else case["kernel"]
    top, bottom, left, right = pads_of(case)
    extra = {}
    if case["border"] in ("zero", "constant"):
        extra["constant_values"] = case["constant"]
    p = np.pad(case["x"].astype(np.float64), ((top, bottom), (left, right)),
               mode=NUMPY_PAD[case["border"]], **extra)
    (kh, kw), (sy, sx), (dy, dx) = k.shape, case["stride"], case["dilation"]
    oh, ow = output_shape(case)
    out = np.zeros((oh, ow))
    for m in range(kh):
        for n in range(kw):
            out += k[m, n] * p[m * dy: m * dy + (oh - 1) * sy + 1: sy,
                               n * dx: n * dx + (ow - 1) * sx + 1: sx]
    return out


def scipy_equivalent(case):
    """The same result from scipy where scipy has an equivalent, else None."""
    x = case["x"].astype(np.float64)
    k = case["kernel"]
    (kh, kw), (sy, sx), (dy, dx) = k.shape, case["stride"], case["dilation"]
    border = case["border"]
    if case["mode"] == "same":
        # Dilate the kernel by inserting zeros; anchor a sits at a*d of it, and
        # scipy's origin is measured from the dilated kernel's centre E // 2
        # (for both correlate and convolve, see docs/borders.md).
        kd = np.zeros(((kh - 1) * dy + 1, (kw - 1) * dx + 1))
        kd[::dy, ::dx] = k
        ay, ax = case["anchor"] if case["anchor"] is not None else (kh // 2, kw // 2)
        origin = (ay * dy - kd.shape[0] // 2, ax * dx - kd.shape[1] // 2)
        fn = getattr(ndi, case["op"])
        full = fn(x, kd, mode=NDIMAGE_MODE[border], cval=case["constant"], origin=origin)
        return full[::sy, ::sx], f"scipy.ndimage.{case['op']}"
    if case["mode"] in ("valid", "full") and (sy, sx, dy, dx) == (1, 1, 1, 1):
        if border not in SIGNAL_BOUNDARY:
            return None
        if case["mode"] == "valid" and (kh > x.shape[0] or kw > x.shape[1]):
            return None  # scipy swaps the inputs
        fn = getattr(sig, case["op"] + "2d")
        out = fn(x, k, mode=case["mode"], boundary=SIGNAL_BOUNDARY[border],
                 fillvalue=case["constant"])
        return out, f"scipy.signal.{case['op']}2d"
    return None


def random_case(rng):
    kh, kw = int(rng.integers(1, 8)), int(rng.integers(1, 8))
    integer = rng.random() < 0.4
    if rng.random() < 0.3:
        # rank 1 (convc splits these into two passes), zero taps included
        if integer:
            col, row = rng.integers(-4, 5, size=kh), rng.integers(-4, 5, size=kw)
        else:
            col, row = rng.uniform(-1, 1, size=kh), rng.uniform(-1, 1, size=kw)
        col[rng.random(kh) < 0.2] = 0
        row[rng.random(kw) < 0.2] = 0
        k = np.outer(col, row).astype(np.float64)
    else:
        if integer:
            k = rng.integers(-4, 5, size=(kh, kw)).astype(np.float64)
        else:
            k = rng.uniform(-1, 1, size=(kh, kw))
        k[rng.random((kh, kw)) < 0.15] = 0.0
    dtype = "f32" if rng.random() < 0.6 else "f64"
    h, w = int(rng.integers(1, 41)), int(rng.integers(1, 51))
    if integer and rng.random() < 0.5:
        x = rng.integers(-8, 9, size=(h, w)).astype(np.float64)
    else:
        x = 10 * rng.uniform(-1, 1, size=(h, w))
    x = x.astype(np.float32 if dtype == "f32" else np.float64)
    mode = str(rng.choice(["valid", "same", "same", "full", "explicit"]))
    border = str(rng.choice(["zero", "constant", "replicate", "reflect", "mirror", "wrap"]))
    case = {
        "kernel": k,
        "integer": integer,
        "x": x,
        "dtype": dtype,
        "op": str(rng.choice(["correlate", "convolve"])),
        "mode": mode,
        "pads": tuple(int(v) for v in rng.integers(0, 7, size=4)) if mode == "explicit" else None,
        "border": border,
        "constant": float(rng.integers(-3, 4)) if border == "constant" else 0.0,
        "stride": tuple(int(v) for v in rng.choice([1, 1, 2, 3], size=2)),
        "dilation": tuple(int(v) for v in rng.choice([1, 1, 2, 3], size=2)),
        "anchor": None,
    }
    if mode == "same" and rng.random() < 0.4:
        case["anchor"] = (int(rng.integers(0, kh)), int(rng.integers(0, kw)))
    return case


def literal(k):
    rows = ", ".join("[" + ", ".join(str(int(v)) for v in row) + "]" for row in k)
    return f"[{rows}]"


def command(binary, case, backend, folder):
    inp, out = os.path.join(folder, "in.npy"), os.path.join(folder, "out.npy")
    np.save(inp, case["x"])
    cmd = [binary, "apply"]
    if case["integer"]:
        cmd += ["--kernel", literal(case["kernel"])]
    else:
        kfile = os.path.join(folder, "k.npy")
        np.save(kfile, case["kernel"])
        cmd += ["--kernel-file", kfile]
    cmd += ["--op", case["op"]]
    cmd += ["--stride", "%dx%d" % case["stride"], "--dilation", "%dx%d" % case["dilation"]]
    if case["mode"] == "explicit":
        cmd += ["--pad", ",".join(str(p) for p in case["pads"])]
    else:
        cmd += ["--mode", case["mode"]]
    border = case["border"]
    if border == "constant":
        border = f"constant:{case['constant']:g}"
    cmd += ["--border", border]
    if case["anchor"] is not None:
        cmd += ["--anchor", "%d,%d" % case["anchor"]]
    cmd += ["--backend", backend, inp, out]
    return cmd, out


def describe(case):
    k = case["kernel"]
    return (f"{k.shape[0]}x{k.shape[1]} {'integer' if case['integer'] else 'float'} kernel, "
            f"{case['op']}, mode {case['mode']}{' ' + str(case['pads']) if case['pads'] else ''}, "
            f"border {case['border']}, stride {case['stride']}, dilation {case['dilation']}, "
            f"anchor {case['anchor']}, {case['dtype']} image {case['x'].shape}")


def check_one(binary, case, backend, folder):
    """None when convc agrees, else a message."""
    cmd, out_path = command(binary, case, backend, folder)
    if os.path.exists(out_path):
        os.remove(out_path)
    run = subprocess.run(cmd, capture_output=True, text=True)
    shape = output_shape(case)
    repro = " ".join(shlex.quote(c) for c in cmd)
    if shape is None:
        if run.returncode == 1 and run.stderr.startswith("error:"):
            return None
        return (f"the output is empty, so convc must exit 1 with `error:`; it exited "
                f"{run.returncode}\n  stderr: {run.stderr.strip()}\n  command: {repro}")
    if run.returncode != 0:
        return f"convc failed ({run.returncode}): {run.stderr.strip()}\n  command: {repro}"
    want = numpy_model(case)
    alt = scipy_equivalent(case)
    if alt is not None:
        other, name = alt
        if other.shape != want.shape or not np.allclose(other, want, rtol=1e-10, atol=1e-10):
            sys.exit(f"checker bug: the numpy model and {name} disagree on {describe(case)}")
    got = np.load(out_path)
    want_dtype = np.float32 if case["dtype"] == "f32" else np.float64
    if got.dtype != want_dtype:
        return f"output dtype {got.dtype}, input was {case['x'].dtype}\n  command: {repro}"
    if got.shape != want.shape:
        return f"output shape {got.shape}, expected {want.shape}\n  command: {repro}"
    k = case["kernel"]
    max_in = max(float(np.abs(case["x"].astype(np.float64)).max()), abs(case["constant"]))
    bound = (k.size + 1) * EPS[case["dtype"]] * float(np.abs(k).sum()) * max_in
    err = np.abs(got.astype(np.float64) - want)
    bad = np.argwhere(~(err <= bound))
    if len(bad):
        y, x = bad[0]
        return (f"output ({y}, {x}) is {got[y, x]!r} but numpy"
                f"{' and ' + alt[1] if alt else ''} give {want[y, x]!r} "
                f"(|error| {err[y, x]:.3e} > bound {bound:.3e}; {len(bad)} element(s) off)"
                f"\n  command: {repro}")
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("convc", help="path to the built convc binary")
    ap.add_argument("-n", "--cases", type=int, default=200, help="random cases per backend")
    ap.add_argument("--backend", action="append",
                    help="backend(s) to check (repeatable; default: auto)")
    ap.add_argument("--seed", type=int, default=1, help="random seed")
    ap.add_argument("--keep-going", action="store_true",
                    help="report every disagreement, not only the first")
    args = ap.parse_args()
    backends = args.backend or ["auto"]
    failures = 0
    with tempfile.TemporaryDirectory(prefix="convc-cli-check-") as folder:
        for backend in backends:
            rng = np.random.default_rng(args.seed)
            stats = {"agree": 0, "rejected": 0, "scipy": 0, "failed": 0}
            for i in range(args.cases):
                case = random_case(rng)
                msg = check_one(args.convc, case, backend, folder)
                if msg is None:
                    if output_shape(case) is None:
                        stats["rejected"] += 1
                    else:
                        stats["agree"] += 1
                        stats["scipy"] += scipy_equivalent(case) is not None
                    continue
                stats["failed"] += 1
                failures += 1
                print(f"[{backend}] case {i} (seed {args.seed}): {describe(case)}\n  {msg}")
                if not args.keep_going:
                    break
            print(f"[{backend}] {stats['agree']} cases agree within DESIGN.md's bound "
                  f"({stats['scipy']} of them cross-checked with scipy), "
                  f"{stats['rejected']} empty-output specs rejected with an error, "
                  f"{stats['failed']} failed")
            if failures and not args.keep_going:
                break
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
