"""`python -m xnnd export`: capture a model with torch.export, write text IR + constant bundle,
run the C toolchain (api.py does the work; this is its command line).

Exit codes: 0 ok; 2 user error (bad arguments or SPEC, unsupported op or dtype, a quantized
pattern left in float), printed as `xnnd export: ...` without a traceback; 1 capture or
quantization failed, wrong torch, or toolchain missing; else the toolchain's own exit code when
`xnnd compile` fails.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from typing import TYPE_CHECKING, Sequence

from .errors import ExportError

if TYPE_CHECKING:   # torch is imported on first use, not on `import xnnd.cli`
    import torch

    from . import trace

    from .bundle import Case
    from .ir_text import Graph

DEFAULT_XNND = os.path.join("build", "xnnd")


def _progress(msg):
    print(msg, file=sys.stderr, flush=True)


def _parse_shape(text):
    try:
        shape = tuple(int(d) for d in text.split(","))
    except ValueError as e:
        raise argparse.ArgumentTypeError("expected comma-separated ints, e.g. 1,3,224,224") from e
    if not shape or any(d <= 0 for d in shape):
        raise argparse.ArgumentTypeError("dims must be positive")
    return shape


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="xnnd", description="xnnd model exporter")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    ex = sub.add_parser(
        "export", help="export a PyTorch model to a .pte program",
        description="Capture SPEC with torch.export (strict, then non-strict), decompose to core "
                    "ATen, write text IR and a constant bundle, then run `xnnd compile`. SPEC is "
                    "torchvision:NAME (random weights, "
                    "built after torch.manual_seed(SEED); input torch.randn(SHAPE) after "
                    "torch.manual_seed(SEED+1)) or FILE.py:FUNCTION (called after "
                    "torch.manual_seed(SEED), returns (module, example_inputs_tuple)).")
    ex.add_argument("spec", metavar="SPEC")
    ex.add_argument("-o", "--output", required=True, metavar="OUT.pte")
    ex.add_argument("--input-shape", type=_parse_shape, metavar="D0,D1,...",
                    help="torchvision input shape (default 1,3,224,224)")
    ex.add_argument("--dynamic", action="append", default=[], metavar="I:D=MIN..MAX[:STEP]",
                    help="dim D of input I takes any size from MIN to MAX (a multiple of STEP "
                         "when given): the program runs at every such size, memory planned for "
                         "MAX (repeatable; e.g. 0:0=1..8 for batch 1 to 8, 0:2=160..256:32 for "
                         "image heights 160, 192, 224, 256). An example of size 0 or 1 there is "
                         "replaced by one of a size in range (torch.export specializes 0 and 1)")
    ex.add_argument("--no-delegate", action="store_true",
                    help="passed to xnnd compile: portable kernels only")
    ex.add_argument("--seed", type=int, default=0, help="default 0")
    ex.add_argument("--capture", choices=("auto", "strict", "non-strict"), default="auto",
                    help="torch.export mode: auto (default) tries strict capture, then "
                         "non-strict with strict's failure reason printed")
    ex.add_argument("--save-io", metavar="DIR",
                    help="write input_<i>.npy and output_<i>.npy (PyTorch eager) to DIR")
    ex.add_argument("--report", action="store_true", help="passed to xnnd compile")
    ex.add_argument("--xnnd", metavar="PATH",
                    help="toolchain CLI (default $XNND_BIN, else %s)" % DEFAULT_XNND)
    ex.add_argument("--keep-ir", metavar="DIR",
                    help="write OUT.ir and OUT.xcb to DIR instead of a temporary directory")
    ex.add_argument("--ir-only", action="store_true",
                    help="stop after writing the IR and bundle (needs --keep-ir)")
    # ---- bundled program (python/xnnd/bundle.py, include/xnnd/bundle.h) ----
    ex.add_argument("--bundle", action="store_true",
                    help="also write OUT.bundle: the program with test cases whose expected "
                         "outputs come from PyTorch (check with `xnnd run --verify`)")
    ex.add_argument("--bundle-cases", type=int, default=3, metavar="N",
                    help="test cases in the bundle: the example inputs, then N-1 random ones "
                         "(default 3); with --dynamic those take other sizes: the max, the min, "
                         "then seeded sizes in range")
    ex.add_argument("--atol", type=float, default=None,
                    help="bundle tolerance per element (default: 1e-4 times the output's max "
                         "|expected|, the criterion of `xnnd compare`)")
    ex.add_argument("--rtol", type=float, default=1e-3, help="bundle tolerance (default 1e-3)")
    # ---- int8 (python/xnnd/quantize.py) ----
    ex.add_argument("--quantize", choices=("int8",),
                    help="int8: PT2E (prepare_pt2e with the XNNPACK symmetric quantizer, "
                         "calibration, convert_pt2e), then captured like fp32; --save-io and "
                         "--bundle use the PT2E reference model's outputs; PyTorch runs on one "
                         "thread so the reference is the same on every machine")
    ex.add_argument("--allow-float-fallback", action="store_true",
                    help="with --quantize: run quantized patterns xnnd does not lower to int8 in "
                         "float instead of failing")
    ex.add_argument("--calibration-batches", type=int, default=4, metavar="N",
                    help="random calibration batches drawn from seed SEED+2 (default 4)")
    ex.add_argument("--weight-quant", choices=("per-channel", "per-tensor"), default="per-channel",
                    help="conv/linear weights: symmetric int8 per output channel (default) or "
                         "per tensor")
    return parser


def _case_shape(t: torch.Tensor, k: int, dynamic: Sequence[trace.DynamicDim], i: int,
                g: torch.Generator) -> list[int]:
    """Input k's shape in bundle case i of a dynamic program: case 1 at every dynamic dim's
    max, case 2 at its min (at least 1), later cases a seeded size in range."""
    import torch

    shape = list(t.shape)
    for spec in dynamic:
        if spec.input != k:
            continue
        d = spec.dim + t.dim() if spec.dim < 0 else spec.dim
        lo = max(spec.min, spec.step)
        if i == 1:
            shape[d] = spec.max
        elif i == 2:
            shape[d] = lo
        else:
            steps = (spec.max - lo) // spec.step
            shape[d] = lo + spec.step * int(torch.randint(0, steps + 1, (1,), generator=g))
    return shape


def bundle_cases(module: torch.nn.Module, inputs: Sequence[torch.Tensor], n: int, seed: int,
                 atol: float | None, rtol: float,
                 dynamic: Sequence[trace.DynamicDim] = ()) -> list[Case]:
    """Case 0 is the example inputs; case i draws new inputs like them (seeded) and runs
    PyTorch eagerly for the expected outputs. With `--dynamic` specs, the cases after the first
    take other sizes in the dynamic dims (_case_shape), so `xnnd run --verify` changes shape
    between cases."""
    import torch

    from . import trace

    cases: list[Case] = []
    for i in range(max(n, 1)):
        if i == 0:
            case_inputs = list(inputs)
        else:
            g = torch.Generator().manual_seed(seed + 1000 + i)
            shapes = [_case_shape(t, k, dynamic, i, g) for k, t in enumerate(inputs)]
            case_inputs = [torch.randn(shape, generator=g, dtype=t.dtype)
                           if t.is_floating_point() else t.clone() if list(t.shape) == shape
                           else torch.zeros(shape, dtype=t.dtype)
                           for t, shape in zip(inputs, shapes, strict=True)]
        outputs = [t.detach().cpu().numpy() for t in trace.eager_outputs(module, case_inputs)]
        tolerances = [(atol if atol is not None else
                       1e-4 * float(abs(o.astype("float64")).max(initial=0.0)), rtol)
                      for o in outputs]
        cases.append(([t.detach().cpu().numpy() for t in case_inputs], outputs, tolerances))
    return cases


def export_ir(spec: str, seed: int = 0, input_shape: Sequence[int] | None = None,
              save_io: str | None = None, quantize: str | None = None,
              calibration_batches: int = 4, weight_quant: str = "per-channel",
              notes: list[str] | None = None, capture: str = "auto",
              dynamic: Sequence[str] = ()
              ) -> tuple[Graph, torch.nn.Module, tuple[torch.Tensor, ...], torch.fx.GraphModule]:
    """Load and capture SPEC; returns (graph, module, inputs, gm). Raises ExportError. With
    quantize="int8" the module returned (and run for save_io) is the PT2E reference model.
    dynamic: `--dynamic` specs (trace.parse_dynamic); inputs returned (saved by save_io) are
    SPEC's own examples, the capture may use replaced ones (trace.prepare_dynamic_inputs)."""
    import numpy as np

    from . import aten_map, trace

    check_torch()
    if quantize:
        # PyTorch's float kernels sum in a thread-count-dependent order, and a deep int8 network
        # turns those last-bit differences into different quantized outputs (int8 MobileNetV2's
        # reference agrees with itself on only about 60% of outputs between 1 and 2 threads).
        # One thread makes calibration and the saved reference the same on every machine.
        import torch
        torch.set_num_threads(1)
    specs = [trace.parse_dynamic(text) for text in dynamic]
    name, module, inputs = trace.load_spec(spec, seed=seed, input_shape=input_shape)
    dynamic_shapes = trace.dynamic_shapes_of(specs, inputs)
    capture_inputs = trace.prepare_dynamic_inputs(inputs, dynamic_shapes, notes, seed)
    if quantize:
        from . import quantize as quant
        _progress("quantizing with PT2E (%d calibration batches)..." % calibration_batches)
        float_module = module
        module = quant.quantize_module(module, capture_inputs, calibration_batches, seed,
                                       weight_quant, notes=notes, capture=capture,
                                       dynamic_shapes=dynamic_shapes)
    if save_io:
        os.makedirs(save_io, exist_ok=True)
        outputs = trace.eager_outputs(module, inputs)
        for i, t in enumerate(inputs):
            np.save(os.path.join(save_io, "input_%d.npy" % i), t.detach().cpu().numpy())
        for i, t in enumerate(outputs):
            np.save(os.path.join(save_io, "output_%d.npy" % i), t.detach().cpu().numpy())
    _progress("capturing with torch.export...")
    gm = trace.trace(module, capture_inputs, notes, capture, dynamic_shapes)
    if quantize:
        graph = quant.convert(gm, name)
        if save_io:
            quant.save_io_extras(save_io, float_module, module, inputs, graph)
    else:
        graph = aten_map.convert(gm, name)
    return graph, module, inputs, gm


def check_torch() -> None:
    """ExportError (exit 1) unless the running torch is the one requirements.txt pins."""
    import importlib.metadata

    want = "2.13.0"
    try:
        have = importlib.metadata.version("torch")
    except importlib.metadata.PackageNotFoundError:
        have = None
    if have is None or not have.startswith(want):
        raise ExportError("this Python (%s) has torch %s; xnnd's exporter needs torch %s: run "
                          "./scripts/install-deps and use .venv/bin/python"
                          % (sys.executable, have or "(none)", want), exit_code=1)


def _export(args):
    from . import api, trace

    notes = []
    graph, module, inputs, gm = export_ir(args.spec, args.seed, args.input_shape, args.save_io,
                                          args.quantize, args.calibration_batches,
                                          args.weight_quant, notes, args.capture, args.dynamic)
    for note in notes:
        _progress("note: " + note)
    for sym in graph.symbols:
        _progress("dynamic size %s = %d..%d" % (sym.name, sym.min, sym.max))
    const_bytes = sum(v.data.nbytes for v in graph.consts)
    _progress("%d nodes, %d constants (%.1f MB)"
              % (len(graph.nodes), len(graph.consts), const_bytes / 1e6))

    if args.ir_only and not args.keep_ir:
        raise ExportError("--ir-only needs --keep-ir DIR")
    stem = os.path.splitext(os.path.basename(args.output))[0] or "model"
    tmp = None
    if args.keep_ir:
        os.makedirs(args.keep_ir, exist_ok=True)
        ir_dir = args.keep_ir
    else:
        tmp = tempfile.mkdtemp(prefix="xnnd-export-")
        ir_dir = tmp
    try:
        ir_path = os.path.join(ir_dir, stem + ".ir")
        xcb_path = os.path.join(ir_dir, stem + ".xcb")
        api.write_ir(graph, ir_path, xcb_path)
        if args.ir_only:
            return 0
        xnnd = api.find_toolchain(args.xnnd or os.environ.get("XNND_BIN") or DEFAULT_XNND)
        out_dir = os.path.dirname(os.path.abspath(args.output))
        os.makedirs(out_dir, exist_ok=True)
        _progress("compiling...")
        json_path = os.path.join(ir_dir, stem + ".report.json")
        cmd = api.compile_command(xnnd, ir_path, xcb_path, args.output, args.no_delegate,
                                  args.report, json_path)
        rc = subprocess.call(cmd)
        if rc != 0:
            _progress("xnnd export: %s failed (exit %d)" % (" ".join(cmd), rc))
            return rc if rc > 0 else 1
        if args.quantize and not args.no_delegate:
            report = api.read_report(json_path, api._origins(gm))
            try:
                api.check_quantized_lowering(report, args.allow_float_fallback)
            except ExportError:
                os.remove(args.output)
                raise
            for note in report.notes:
                _progress("note: " + note)
        if args.bundle:
            from . import bundle
            path = os.path.splitext(args.output)[0] + ".bundle"
            with open(args.output, "rb") as f:
                pte = f.read()
            bundle.write(path, pte, bundle_cases(module, inputs, args.bundle_cases, args.seed,
                                                 args.atol, args.rtol,
                                                 [trace.parse_dynamic(d) for d in args.dynamic]))
            _progress("wrote %s (%d cases)" % (path, max(args.bundle_cases, 1)))
        return 0
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)


def main(argv: Sequence[str] | None = None) -> int:
    import warnings
    # torch and torchao deprecation chatter is not the user's to act on
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    args = build_parser().parse_args(argv)
    try:
        if args.command == "export":
            return _export(args)
    except ExportError as e:
        print("xnnd export: %s" % e, file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        return 130
    return 2
