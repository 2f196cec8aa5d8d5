"""The demo (./scripts/demo): real data, real predictions, and a real-size network.

1. Digits: a small CNN trained here on scikit-learn's handwritten digits, exported fp32 and int8
   (PT2E) with the Python API, the held-out images classified by the C runtime
   (examples/digits_demo.py).
2. MobileNetV2 (torchvision, random weights from seed 0, batch-norm statistics re-estimated on
   random images so activations keep a sensible magnitude): exported with XNNPACK delegation,
   run by the C runtime, compared with PyTorch, timed next to PyTorch eager (1 thread).
3. One picture: held-out digits labelled with xnnd's prediction, and the latency bars.

Exits 1, naming the figure, if an accuracy, agreement or error bound is not met.
usage: .venv/bin/python examples/demo.py --out DIR [--xnnd PATH]
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)

import digits_demo  # noqa: E402

import xnnd  # noqa: E402
from xnnd import api, trace  # noqa: E402

MOBILENET_SPEC = os.path.join(ROOT, "tests", "models", "quant_ops.py") + ":mobilenet_v2"


def run_mobilenet(out_dir: str, xnnd_bin: str, iters: int) -> dict:
    torch.set_num_threads(1)
    _, module, inputs = trace.load_spec(MOBILENET_SPEC, seed=0)
    result = xnnd.export(module, inputs, name="mobilenet_v2")
    pte = os.path.join(out_dir, "mobilenet_v2.pte")
    result.save(pte)
    got, xnnd_ms = digits_demo.run_xnnd(xnnd_bin, pte, inputs[0].numpy(),
                                        os.path.join(out_dir, "mobilenet_v2"), iters)
    with torch.no_grad():
        expected = module(*inputs).numpy()
        module(*inputs)
        times = []
        for _ in range(iters):
            t = time.perf_counter()
            module(*inputs)
            times.append(time.perf_counter() - t)
    torch_ms = 1e3 * float(np.median(times))
    err = float(np.abs(got - expected).max() / np.abs(expected).max())
    rep = result.report
    print()
    print("MobileNetV2 (random weights, seed 0; batch-norm statistics re-estimated), 1x3x224x224:")
    print("  delegated to XNNPACK: %d of %d nodes in %d partition(s), %.1f%% of "
          "multiply-accumulates"
          % (rep.nodes_delegated, len(rep.nodes), len(rep.partitions), 100 * rep.mac_share))
    print("  outputs: max |PyTorch| = %.3g; max |xnnd - PyTorch| / max |PyTorch| = %.2e"
          % (float(np.abs(expected).max()), err))
    print("  latency (1 thread, median of %d): xnnd %.2f ms, PyTorch eager %.2f ms (%.2fx)"
          % (iters, xnnd_ms, torch_ms, xnnd_ms / torch_ms))
    failures = []
    if err > 1e-4:
        failures.append("MobileNetV2 differs from PyTorch by %.2e (relative)" % err)
    if float(np.abs(expected).max()) < 1e-2:
        failures.append("MobileNetV2's outputs are vanishingly small (%.3g)"
                        % np.abs(expected).max())
    return {"ms": {"PyTorch eager": torch_ms, "xnnd": xnnd_ms}, "failures": failures}


def picture(path: str, digits: dict, mobilenet: dict) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(11, 4.4))
    images, labels, predicted = digits["images"], digits["labels"], digits["predicted_int8"]
    for i in range(15):   # a 3 x 5 grid on the left half
        ax = fig.add_axes((0.02 + (i % 5) * 0.09, 0.66 - (i // 5) * 0.28, 0.07, 0.2))
        ax.imshow(images[i, 0], cmap="gray_r", interpolation="nearest")
        ok = predicted[i] == labels[i]
        ax.set_title("%d" % predicted[i], fontsize=12, color="green" if ok else "red", pad=2)
        ax.axis("off")
    fig.text(0.245, 0.03, "held-out digits, title = xnnd int8's prediction (green: correct)",
             ha="center", fontsize=9)
    colors = {"PyTorch float": "#999999", "PyTorch eager": "#999999", "xnnd fp32": "#1f77b4",
              "xnnd": "#1f77b4", "xnnd int8": "#2ca02c"}
    for pos, (title, unit, data) in enumerate((
            ("digits CNN, per image", "microseconds", digits["us_per_image"]),
            ("MobileNetV2 224x224", "milliseconds", mobilenet["ms"]))):
        ax = fig.add_axes((0.62, 0.6 - pos * 0.47, 0.33, 0.3))
        names = list(data)
        ax.barh(names, [data[n] for n in names], color=[colors[n] for n in names])
        for k, n in enumerate(names):
            ax.text(data[n], k, " %.2f" % data[n], va="center", fontsize=8)
        ax.set_title(title + " (1 thread, " + unit + ")", fontsize=10)
        ax.tick_params(labelsize=8)
        ax.invert_yaxis()
        ax.set_xlim(0, max(data.values()) * 1.25)
    fig.savefig(path, dpi=90)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--xnnd", default=None)
    ap.add_argument("--iters", type=int, default=20)
    args = ap.parse_args(argv)
    xnnd_bin = api.find_toolchain(args.xnnd)
    os.makedirs(args.out, exist_ok=True)
    t0 = time.time()
    digits = digits_demo.run_digits(os.path.join(args.out, "digits"), xnnd_bin, args.iters)
    mobilenet = run_mobilenet(args.out, xnnd_bin, args.iters)
    path = os.path.join(args.out, "demo.png")
    picture(path, digits, mobilenet)
    print()
    print("wrote %s (%.0f s)" % (path, time.time() - t0))
    failures = digits["failures"] + mobilenet["failures"]
    for f in failures:
        print("FAIL: " + f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
