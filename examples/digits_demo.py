"""Train a small CNN on scikit-learn's handwritten digits, export it fp32 and int8 (PT2E) with
the Python API, classify the held-out images with the C runtime, and check the predictions.

usage: .venv/bin/python examples/digits_demo.py --out DIR [--picture FILE.png] [--xnnd PATH]

Prints a table: top-1 accuracy of PyTorch float, xnnd fp32, PyTorch's int8 reference and xnnd
int8; agreement of xnnd's predicted classes with PyTorch's; latency per image; delegated share.
Exits 1 (with the failing figure named) unless xnnd int8 is within 1 point of float's accuracy,
xnnd int8 predicts the reference's class on at least 99% of images, and xnnd fp32 matches
PyTorch float within 1e-4 (relative to the largest logit) with the same class everywhere.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import digits_model  # noqa: E402

import xnnd  # noqa: E402
from xnnd import api, quantize  # noqa: E402


def run_xnnd(xnnd_bin: str, pte: str, x: np.ndarray, folder: str,
             iters: int) -> tuple[np.ndarray, float]:
    """Outputs of the program on x with the C runtime, and its median latency (ms)."""
    os.makedirs(folder, exist_ok=True)
    np.save(os.path.join(folder, "input_0.npy"), x)
    out = subprocess.run([xnnd_bin, "run", pte, "--input", os.path.join(folder, "input_0.npy"),
                          "--output-dir", folder, "--iters", str(iters), "--warmup", "2",
                          "--threads", "1"], check=True, capture_output=True, text=True).stdout
    median = float(out.rsplit("median", 1)[1].split("ms")[0])
    return np.load(os.path.join(folder, "output_0.npy")), median


def picture(path: str, images: np.ndarray, predicted: np.ndarray, labels: np.ndarray,
            latencies: dict[str, float]) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(10, 4))
    for i in range(12):
        ax = fig.add_subplot(3, 8, (i // 4) * 8 + i % 4 + 1)
        ax.imshow(images[i, 0], cmap="gray_r")
        ok = predicted[i] == labels[i]
        ax.set_title("xnnd: %d" % predicted[i], fontsize=9, color="green" if ok else "red")
        ax.axis("off")
    ax = fig.add_subplot(1, 2, 2)
    names = list(latencies)
    ax.barh(names, [latencies[n] for n in names],
            color=["#999999", "#1f77b4", "#2ca02c", "#ff7f0e"][:len(names)])
    ax.set_xlabel("microseconds per image (1 thread)")
    ax.invert_yaxis()
    fig.suptitle("held-out digits classified by xnnd int8 (green: correct)")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def run_digits(out_dir: str, xnnd_bin: str, iters: int = 20) -> dict:
    """Train, export, classify; prints the table and returns the figures, with "failures" (a
    list of messages) and what the picture needs."""
    torch.set_num_threads(1)
    os.makedirs(out_dir, exist_ok=True)
    t0 = time.time()
    net, (x_test, y_test) = digits_model.train()
    x_train = digits_model.load_data()[0]
    print("trained in %.1f s on %d images; %d held out"
          % (time.time() - t0, len(x_train), len(x_test)))
    inputs = (x_test,)
    n = len(x_test)

    fp32 = xnnd.export(net, inputs, name="digits")
    fp32.save(os.path.join(out_dir, "digits_fp32.pte"))
    # int8: PT2E calibrated on training images (batches shaped like the example input)
    calib = [(x_train[i:i + n],) for i in range(0, len(x_train) - n + 1, n)]
    reference = quantize.quantize_module(net, inputs, calibration_data=calib)
    # The pointwise block (a linear over the channels of an NHWC permute) has no int8 lowering
    # yet (the pointwise-affine pass rewrites f32 regions only): allow_float runs that one
    # linear in float, and the report's notes say so.
    int8 = xnnd.lower(torch.export.export(reference, inputs), name="digits_int8", allow_float=True)
    int8.save(os.path.join(out_dir, "digits_int8.pte"))

    with torch.no_grad():
        t = time.perf_counter()
        for _ in range(iters):
            float_logits = net(x_test)
        torch_ms = (time.perf_counter() - t) / iters * 1e3
        ref_logits = reference(x_test)
    x_np = x_test.numpy()
    x32, ms32 = run_xnnd(xnnd_bin, os.path.join(out_dir, "digits_fp32.pte"), x_np,
                         os.path.join(out_dir, "fp32"), iters)
    x8, ms8 = run_xnnd(xnnd_bin, os.path.join(out_dir, "digits_int8.pte"), x_np,
                       os.path.join(out_dir, "int8"), iters)

    y = y_test.numpy()
    pf, pr = float_logits.argmax(1).numpy(), ref_logits.argmax(1).numpy()
    p32, p8 = x32.argmax(1), x8.argmax(1)
    acc = {k: float(np.mean(p == y)) for k, p in
           (("float", pf), ("fp32", p32), ("ref8", pr), ("int8", p8))}
    agree32, agree8 = float(np.mean(p32 == pf)), float(np.mean(p8 == pr))
    err32 = float(np.abs(x32 - float_logits.numpy()).max() / np.abs(float_logits.numpy()).max())
    us = {"PyTorch float": 1e3 * torch_ms / n, "xnnd fp32": 1e3 * ms32 / n,
          "xnnd int8": 1e3 * ms8 / n}
    print()
    print("%-26s %9s %16s %12s %10s" % ("digits (8x8, 359 held out)", "accuracy", "same class as",
                                         "us / image", "MACs in"))
    print("%-26s %9s %16s %12s %10s" % ("", "", "PyTorch", "(1 thread)", "XNNPACK"))
    print("%-26s %8.2f%% %16s %12.2f %10s" % ("PyTorch float (eager)", 100 * acc["float"], "",
                                              us["PyTorch float"], ""))
    print("%-26s %8.2f%% %15.2f%% %12.2f %9.0f%%" % ("xnnd fp32", 100 * acc["fp32"], 100 * agree32,
                                                  us["xnnd fp32"], 100 * fp32.report.mac_share))
    print("%-26s %8.2f%%" % ("PyTorch int8 (PT2E ref.)", 100 * acc["ref8"]))
    print("%-26s %8.2f%% %15.2f%% %12.2f %9.0f%%" % ("xnnd int8", 100 * acc["int8"], 100 * agree8,
                                                  us["xnnd int8"], 100 * int8.report.mac_share))
    print("(xnnd fp32 vs PyTorch float: max |a-b| / max |b| = %.2e; xnnd int8's classes are "
          "compared with the PT2E reference's; one batch of %d)" % (err32, n))
    for note in int8.report.notes:
        print("note: " + note)

    failures = []
    if abs(acc["int8"] - acc["float"]) > 0.01:
        failures.append("xnnd int8 accuracy %.2f%% is more than 1 point from float's %.2f%%"
                        % (100 * acc["int8"], 100 * acc["float"]))
    if agree8 < 0.99:
        failures.append("xnnd int8 predicts the reference's class on only %.2f%% of images"
                        % (100 * agree8))
    if err32 > 1e-4 or agree32 < 1.0:
        failures.append("xnnd fp32 differs from PyTorch float: error %.2e, same class %.2f%%"
                        % (err32, 100 * agree32))
    return {"accuracy": acc, "agree_fp32": agree32, "agree_int8": agree8, "us_per_image": us,
            "images": x_np, "labels": y, "predicted_int8": p8, "failures": failures}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--picture", default=None)
    ap.add_argument("--xnnd", default=None, help="the xnnd CLI (default: this checkout's build)")
    ap.add_argument("--iters", type=int, default=20)
    args = ap.parse_args(argv)
    r = run_digits(args.out, api.find_toolchain(args.xnnd), args.iters)
    if args.picture:
        picture(args.picture, r["images"], r["predicted_int8"], r["labels"], r["us_per_image"])
        print("wrote %s" % args.picture)
    for f in r["failures"]:
        print("FAIL: " + f)
    return 1 if r["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
