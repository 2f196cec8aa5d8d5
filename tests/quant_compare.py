"""Compare an int8 program's outputs with PyTorch's reference quantized model.

usage: quant_compare.py IO_DIR XNND_DIR [--max-steps K] [--min-fraction F] [--name NAME]

IO_DIR holds what `xnnd export --quantize int8 --save-io IO_DIR` writes: output_<i>.npy (the
reference quantized model, run eagerly), float_output_<i>.npy (the float model) and
output_<i>.qparams.json (the output's scale: one quantization step). XNND_DIR holds
`xnnd run --output-dir`'s output_<i>.npy. For every output prints the share of elements within
1 and 2 steps of the reference, the largest difference in steps, the signal-to-noise ratio
(dB) of xnnd and of the reference against the float model, and (from
reference_2threads_output_<i>.npy) how well the reference agrees with itself when PyTorch runs
on 2 threads instead of 1: the noise floor of the comparison. Fails (exit 1) unless at least
F (default 1.0) of the elements are within K (default 1) steps, and, with --snr-parity D, unless
xnnd's signal-to-noise ratio against the float model is at most D dB below the reference's,
and, with --max-abs-steps K, unless every element is within K steps of the reference.
"""

import argparse
import glob
import json
import math
import os
import sys

import numpy as np


def snr_db(signal, approx):
    noise = np.sum((signal.astype(np.float64) - approx.astype(np.float64)) ** 2)
    power = np.sum(signal.astype(np.float64) ** 2)
    if noise == 0:
        return math.inf
    return 10.0 * math.log10(power / noise) if power > 0 else -math.inf


def step_diff(a, b, scale):
    steps = np.abs(a.astype(np.float64) - b.astype(np.float64)) / scale
    # a float32 product may land a hair beyond an exact step count
    return np.where(np.abs(steps - np.round(steps)) < 1e-3, np.round(steps), steps)


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("io_dir")
    ap.add_argument("xnnd_dir")
    ap.add_argument("--max-steps", type=float, default=1.0)
    ap.add_argument("--min-fraction", type=float, default=1.0)
    ap.add_argument("--name", default="")
    ap.add_argument("--snr-parity", type=float, default=None, metavar="DB")
    ap.add_argument("--max-abs-steps", type=float, default=None, metavar="K",
                    help="fail if any element is more than K steps from the reference")
    args = ap.parse_args(argv)
    refs = sorted(glob.glob(os.path.join(args.io_dir, "output_*.npy")))
    if not refs:
        print("quant_compare: no output_*.npy in %s" % args.io_dir)
        return 1
    ok = True
    for ref_path in refs:
        base = os.path.basename(ref_path)[:-4]
        ref = np.load(ref_path)
        got = np.load(os.path.join(args.xnnd_dir, base + ".npy"))
        with open(os.path.join(args.io_dir, base + ".qparams.json")) as f:
            scale = json.load(f)["scale"]
        if ref.shape != got.shape:
            print("%s %s: shape %s, reference %s" % (args.name, base, got.shape, ref.shape))
            ok = False
            continue
        steps = step_diff(got, ref, scale)
        within1 = float(np.mean(steps <= 1.0))
        within2 = float(np.mean(steps <= 2.0))
        within = float(np.mean(steps <= args.max_steps))
        line = ("%s %s: %d elements, within 1 step %.2f%%, within 2 steps %.2f%%, max %.0f steps (scale %g)"
                % (args.name, base, ref.size, 100 * within1, 100 * within2, steps.max(), scale))
        float_path = os.path.join(args.io_dir, "float_" + base + ".npy")
        if os.path.exists(float_path):
            fl = np.load(float_path)
            snr_x, snr_r = snr_db(fl, got), snr_db(fl, ref)
            line += "; SNR vs float: xnnd %.1f dB, PyTorch reference %.1f dB" % (snr_x, snr_r)
            if args.snr_parity is not None and snr_x < snr_r - args.snr_parity:
                print("FAIL: %s %s: SNR %.1f dB is more than %g dB below the reference's %.1f dB"
                      % (args.name, base, snr_x, args.snr_parity, snr_r))
                ok = False
        ref2_path = os.path.join(args.io_dir, "reference_2threads_" + base + ".npy")
        if os.path.exists(ref2_path):
            floor = step_diff(np.load(ref2_path), ref, scale)
            line += ("; reference at 2 vs 1 threads: within 2 steps %.2f%%, max %.0f steps"
                     % (100 * float(np.mean(floor <= 2.0)), floor.max()))
        print(line.strip())
        if args.max_abs_steps is not None and steps.max() > args.max_abs_steps:
            print("FAIL: %s %s: an element is %.0f steps from the reference, at most %g allowed"
                  % (args.name, base, steps.max(), args.max_abs_steps))
            ok = False
        if within < args.min_fraction:
            print("FAIL: %s %s: %.2f%% within %g steps, need %.2f%%"
                  % (args.name, base, 100 * within, args.max_steps, 100 * args.min_fraction))
            ok = False
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
