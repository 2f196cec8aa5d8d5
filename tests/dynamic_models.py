"""Dynamic-shape models end to end (issue 19): each model is exported ONCE with dynamic dims
(xnnd.export / xnnd.lower with torch.export Dims), then run by `xnnd run` at many sizes, each
compared with eager PyTorch at that size. Used by tests/e2e/dynamic_models.sh.

usage: dynamic_models.py [--xnnd build/xnnd] [--work DIR] CASE...

CASEs (random weights, fixed seeds):
  resnet18      torchvision resnet18 (tests/models/torchvision_random.py), batch 1..8, run at
                every batch; within 1e-4 of max|torch| (tests/e2e/model_resnet18.sh)
                (resnet18, mobilenet_v2 and int8: every node in one XNNPACK partition, as static)
  mobilenet_v2  torchvision mobilenet_v2, batch 1, height and width each 160..256 in steps of 32
                (two symbols), run at every square size and one non-square; 1e-4 of max|torch|
  encoder       nn.TransformerEncoderLayer(d_model=64, nhead=4, dim_feedforward=128,
                batch_first=True), batch 2, sequence length 1..128, run at 1, 2, 17, 64, 128;
                1e-4 of max|torch| (tests/e2e/model_transformer.sh); delegated exactly like the
                same layer exported static
  api           tests/models/small.py:convnet through xnnd.export(dynamic_shapes={"x": {0: Dim}})
                (forward's parameter name), example batch 1: report.notes says it was replaced;
                batch 1..4 within 1e-4 of max|torch|
  int8          tests/models/quant_ops.py:conv_block quantized with PT2E (quantize="int8"),
                batch 1..8, run at every batch; every element within one output quantization
                step of PyTorch's reference quantized model at that batch
                (tests/e2e/quant_ops.sh)
Prints one line per size (largest error) and exits 1 at the first failure.
"""

import argparse
import os
import subprocess
import sys

import numpy as np
import torch
import torch.nn as nn
from torch.export import Dim

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(ROOT, "python"))
sys.path.insert(0, os.path.join(ROOT, "tests", "models"))

from xnnd import api, trace  # noqa: E402


def _torchvision(name):
    import torchvision_random
    module, _ = getattr(torchvision_random, name)()
    return module


def resnet18_case():
    return dict(module=_torchvision("resnet18"), example=(torch.randn(1, 3, 224, 224),),
                dynamic_shapes=({0: Dim("batch", min=1, max=8)},),
                shapes=[[(b, 3, 224, 224)] for b in range(1, 9)], rtol=1e-4, one_partition=True)


def mobilenet_v2_case():
    h, w = Dim("h", min=5, max=8), Dim("w", min=5, max=8)
    sizes = [(s, s) for s in (160, 192, 224, 256)] + [(256, 160)]
    return dict(module=_torchvision("mobilenet_v2"), example=(torch.randn(1, 3, 224, 224),),
                dynamic_shapes=({2: 32 * h, 3: 32 * w},),
                shapes=[[(1, 3, a, b)] for a, b in sizes], rtol=1e-4, one_partition=True)


def encoder_case():
    torch.manual_seed(0)
    layer = nn.TransformerEncoderLayer(d_model=64, nhead=4, dim_feedforward=128,
                                       batch_first=True).eval()
    return dict(module=layer, example=(torch.randn(2, 16, 64),),
                dynamic_shapes=({1: Dim("seq", min=1, max=128)},),
                shapes=[[(2, n, 64)] for n in (1, 2, 17, 64, 128)], rtol=1e-4,
                same_as_static=True)


def int8_case():
    import quant_ops
    torch.manual_seed(0)
    module, example = quant_ops.conv_block()
    return dict(module=module.eval(), example=example,
                dynamic_shapes=({0: Dim("batch", min=1, max=8)},),
                shapes=[[(b, 3, 16, 16)] for b in range(1, 9)], quantize=True, one_partition=True)


def api_case():
    import small
    module, example = small.convnet()
    return dict(module=module.eval(), example=example,
                dynamic_shapes={"x": {0: Dim("batch", min=1, max=4)}},
                shapes=[[(b, 3, 16, 16)] for b in range(1, 5)], rtol=1e-4, api=True)


CASES = {"resnet18": resnet18_case, "mobilenet_v2": mobilenet_v2_case,
         "encoder": encoder_case, "int8": int8_case, "api": api_case}


def export(name, case, xnnd_bin, work):
    """(program path, reference module, output quantization steps or None)."""
    from xnnd import quantize as quant

    module, example, ds = case["module"], case["example"], case["dynamic_shapes"]
    if case.get("api"):
        import xnnd
        result = xnnd.export(module, example, dynamic_shapes=ds, capture="non-strict",
                             xnnd_bin=xnnd_bin)
        if not any("has size 1 in dynamic dim 0" in n for n in result.report.notes):
            print("FAIL: %s: no note on the replaced example: %s" % (name, result.report.notes))
            sys.exit(1)
        path = os.path.join(work, name + ".pte")
        result.save(path)
        print("%s: exported once with xnnd.export; notes: %s"
              % (name, "; ".join(result.report.notes)), flush=True)
        return path, module, None
    notes = []
    inputs = trace.prepare_dynamic_inputs(example, ds, notes, 0, module)
    reference, steps = module, None
    if case.get("quantize"):
        torch.set_num_threads(1)   # the reference's float sums in one order (cli.export_ir)
        reference = quant.quantize_module(module, inputs, 4, 0, dynamic_shapes=ds,
                                          capture="non-strict")
    ep = trace.capture(reference, inputs, notes, "non-strict", ds)
    graph, gm = api.graph_of(ep, name)
    if case.get("quantize"):
        steps = []
        for v in graph.outputs:
            producer = next(n for n in graph.nodes if v in n.outputs)
            steps.append(float(producer.attr("scale")) if producer.op == "xnnd.dequantize"
                         else None)
    result = api.compile_graph(graph, xnnd_bin=xnnd_bin, keep_ir=os.path.join(work, name),
                               print_report=False, origins=api._origins(gm))
    if case.get("quantize"):
        api.check_quantized_lowering(result.report, allow_float=False)
    report = result.report
    if case.get("one_partition") and (len(report.partitions) != 1
                                      or report.nodes_delegated != len(report.nodes)):
        print("FAIL: %s: expected every node in one XNNPACK partition, got %d of %d in %d\n%s"
              % (name, report.nodes_delegated, len(report.nodes), len(report.partitions),
                 report.summary()), flush=True)
        sys.exit(1)
    if case.get("same_as_static"):   # dynamic dims cost no delegation
        static = api.lower(trace.capture(reference, inputs, None, "non-strict"), name=name,
                           xnnd_bin=xnnd_bin).report
        got = (report.nodes_delegated, len(report.nodes), len(report.partitions))
        want = (static.nodes_delegated, len(static.nodes), len(static.partitions))
        if got != want:
            print("FAIL: %s: dynamic delegates %d of %d nodes in %d partitions, static %d of %d "
                  "in %d" % ((name,) + got + want), flush=True)
            sys.exit(1)
    path = os.path.join(work, name + ".pte")
    result.save(path)
    syms = ", ".join("%s = %d..%d" % (s.name, s.min, s.max) for s in graph.symbols)
    print("%s: exported once (%s); %d of %d nodes delegated, %d partition(s)%s"
          % (name, syms, result.report.nodes_delegated, len(result.report.nodes),
             len(result.report.partitions),
             "".join("; note: " + n for n in notes)), flush=True)
    return path, reference, steps


def run_sizes(name, case, path, reference, steps, xnnd_bin, work):
    ok = True
    gen = torch.Generator().manual_seed(1)
    for k, shapes in enumerate(case["shapes"]):
        inputs = [torch.randn(s, generator=gen) for s in shapes]
        with torch.no_grad():
            expected = trace.eager_outputs(reference, inputs)
        d = os.path.join(work, "%s_%d" % (name, k))
        os.makedirs(d, exist_ok=True)
        cmd = [xnnd_bin, "run", path, "--output-dir", d, "--iters", "1", "--warmup", "0"]
        for i, t in enumerate(inputs):
            np.save(os.path.join(d, "input_%d.npy" % i), t.numpy())
            cmd += ["--input", os.path.join(d, "input_%d.npy" % i)]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            print("FAIL: %s at %s: xnnd run exited %d: %s"
                  % (name, shapes, proc.returncode, proc.stderr.strip()), flush=True)
            return False
        parts = []
        for i, ref in enumerate(expected):
            ref = ref.numpy()
            got = np.load(os.path.join(d, "output_%d.npy" % i))
            if got.shape != ref.shape:
                print("FAIL: %s at %s: output %d has shape %s, PyTorch %s"
                      % (name, shapes, i, got.shape, ref.shape), flush=True)
                return False
            diff = float(np.abs(got.astype(np.float64) - ref).max(initial=0.0))
            if steps is not None and steps[i] is not None:
                worst = diff / steps[i]
                parts.append("output %d: max %.3g steps" % (i, worst))
                ok_i = worst <= 1.0 + 1e-3
            else:
                scale = float(np.abs(ref).max(initial=0.0))
                parts.append("output %d %s: max |diff| %.3g = %.3g of max|torch|"
                             % (i, list(ref.shape), diff, diff / scale if scale else diff))
                ok_i = diff <= case["rtol"] * scale
            ok = ok and ok_i
        print("%s %s %s: %s" % ("ok  " if ok else "FAIL", name,
                                "x".join(str(d) for d in shapes[0]), "; ".join(parts)),
              flush=True)
        if not ok:
            return False
    return ok


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("cases", nargs="+", choices=sorted(CASES))
    ap.add_argument("--xnnd", default=os.path.join(ROOT, "build", "xnnd"))
    ap.add_argument("--work", default=None)
    args = ap.parse_args(argv)
    import tempfile
    work = args.work or tempfile.mkdtemp(prefix="xnnd-dynamic-")
    for name in args.cases:
        case = CASES[name]()
        path, reference, steps = export(name, case, args.xnnd, work)
        if not run_sizes(name, case, path, reference, steps, args.xnnd, work):
            return 1
    print("PASS dynamic models: %s" % ", ".join(args.cases))
    return 0


if __name__ == "__main__":
    sys.exit(main())
