"""The Python API for export toolchains.

    import torch, xnnd
    ep = torch.export.export(model.eval(), (x,))
    result = xnnd.lower(ep)                  # program bytes + delegation report
    result.save("model.pte")
    print(result.report.summary())

    result = xnnd.export(model, (x,), quantize="int8")   # capture + PT2E int8 + lowering

    from torch.export import Dim                 # dynamic shapes: one program for batch 1..8
    result = xnnd.export(model, (x,), dynamic_shapes=({0: Dim("batch", min=1, max=8)},))

lower() maps the ExportedProgram to xnnd's text IR and constant bundle (core ATen, with xnnd's
decomposition choices: trace.decomposition_table) and runs the C toolchain (`xnnd compile`) on
them: passes, partitioner, serializer. The toolchain is the `xnnd` binary of this checkout's
build/ unless xnnd_bin or $XNND_BIN names another.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import tempfile
from typing import Any, Sequence

import torch

from . import aten_map, ir_text, trace
from .errors import ExportError

_REPO_BUILD = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "build", "xnnd")
# ops that carry no computation of their own: a float one between dq and q is not a miss
_DATA_MOVEMENT = {"aten.view", "aten.permute", "aten.clone", "aten.slice", "aten.select",
                  "aten.cat", "aten.expand", "aten.t", "xnnd.quantize", "xnnd.dequantize"}


@dataclasses.dataclass
class NodeReport:
    """One IR node after the passes: where it runs and why."""
    op: str
    output: str                 # name of its first output value
    partition: int              # XNNPACK partition index, -1 for the portable kernels
    reason: str                 # why it is not delegated ("" when it is)
    macs: int
    int8: bool                  # computes in int8 inside XNNPACK
    module: str | None = None   # module path of the PyTorch code it came from, where known
    dq_input: bool = False
    q_output: bool = False

    @property
    def delegated(self) -> bool:
        return self.partition >= 0


@dataclasses.dataclass
class DelegationReport:
    """What was delegated to XNNPACK and why not, as data."""
    graph: str
    nodes: list[NodeReport]
    partitions: list[dict[str, int]]
    macs_delegated: int
    macs_total: int
    notes: list[str] = dataclasses.field(default_factory=list)   # capture fallbacks etc.

    @property
    def nodes_delegated(self) -> int:
        return sum(n.delegated for n in self.nodes)

    @property
    def mac_share(self) -> float:
        """Share of multiply-accumulates inside XNNPACK (1.0 when the model has none)."""
        return self.macs_delegated / self.macs_total if self.macs_total else 1.0

    def by_op(self) -> dict[str, dict[str, Any]]:
        """op -> {"delegated": n, "portable": n, "reasons": [distinct reasons]}."""
        table: dict[str, dict[str, Any]] = {}
        for n in self.nodes:
            row = table.setdefault(n.op, {"delegated": 0, "portable": 0, "reasons": []})
            row["delegated" if n.delegated else "portable"] += 1
            if n.reason and n.reason not in row["reasons"]:
                row["reasons"].append(n.reason)
        return table

    def float_in_quantized(self) -> list[NodeReport]:
        """Compute nodes between a dequantize and a quantize that do not run in int8: quantized
        patterns the passes did not lower."""
        return [n for n in self.nodes if n.dq_input and n.q_output and not n.int8
                and n.op not in _DATA_MOVEMENT]

    def summary(self) -> str:
        lines = ["%-32s %9s %9s  %s" % ("op", "delegated", "portable", "why not delegated")]
        for op, row in sorted(self.by_op().items()):
            reasons = row["reasons"] or [""]
            lines.append("%-32s %9d %9d  %s" % (op, row["delegated"], row["portable"], reasons[0]))
            lines.extend("%-32s %9s %9s  %s" % ("", "", "", r) for r in reasons[1:])
        lines.append("nodes delegated: %d of %d; partitions: %d; multiply-accumulates in "
                     "XNNPACK: %.2f%%" % (self.nodes_delegated, len(self.nodes),
                                          len(self.partitions), 100.0 * self.mac_share))
        lines.extend("note: " + note for note in self.notes)
        return "\n".join(lines)


@dataclasses.dataclass
class LoweringResult:
    program: bytes              # the .pte program
    report: DelegationReport

    def save(self, path: str) -> None:
        with open(path, "wb") as f:
            f.write(self.program)


def find_toolchain(xnnd_bin: str | None = None) -> str:
    """Path of the `xnnd` CLI: xnnd_bin, else $XNND_BIN, else this checkout's build/xnnd, else
    `xnnd` on PATH. ExportError (exit code 1) when none is executable."""
    candidates = [xnnd_bin] if xnnd_bin else [os.environ.get("XNND_BIN"), _REPO_BUILD,
                                              shutil.which("xnnd")]
    for path in candidates:
        if path and os.path.isfile(path) and os.access(path, os.X_OK):
            return os.path.abspath(path)
    raise ExportError("toolchain not found: %s (build it with scripts/build, or pass xnnd_bin / "
                      "--xnnd PATH, or set XNND_BIN)" % (xnnd_bin or os.path.normpath(_REPO_BUILD)),
                      exit_code=1)


def graph_of(exported_program: torch.export.ExportedProgram,
             name: str = "model") -> tuple[ir_text.Graph, torch.fx.GraphModule]:
    """(graph, gm): the IR graph of an ExportedProgram (float or PT2E-quantized) and the core
    ATen GraphModule it was mapped from (trace.to_graph_module)."""
    from . import quantize

    if not isinstance(exported_program, torch.export.ExportedProgram):
        raise ExportError("expected a torch.export.ExportedProgram, got %s"
                          % type(exported_program).__name__)
    gm = trace.to_graph_module(exported_program)
    if quantize.is_quantized(gm):
        return quantize.convert(gm, name), gm
    return aten_map.convert(gm, name), gm


def compile_command(xnnd: str, ir_path: str, xcb_path: str, out_path: str,
                    no_delegate: bool = False, report: bool = False,
                    report_json: str | None = None) -> list[str]:
    """The exact toolchain invocation."""
    cmd = [xnnd, "compile", ir_path, "--constants", xcb_path, "-o", out_path]
    if no_delegate:
        cmd.append("--no-delegate")
    if report:
        cmd.append("--report")
    if report_json:
        cmd += ["--report-json", report_json]
    return cmd


def compile_graph(graph: ir_text.Graph, *, delegate: bool = True, xnnd_bin: str | None = None,
                  keep_ir: str | None = None, print_report: bool = False,
                  origins: dict[str, str] | None = None) -> LoweringResult:
    """Write graph's text IR and constant bundle, run `xnnd compile`, read back the program and
    the report. keep_ir: a folder that keeps NAME.ir and NAME.xcb. print_report: the toolchain
    also prints its text report to stdout."""
    xnnd = find_toolchain(xnnd_bin)
    tmp = tempfile.mkdtemp(prefix="xnnd-lower-")
    try:
        ir_dir = keep_ir or tmp
        os.makedirs(ir_dir, exist_ok=True)
        ir_path = os.path.join(ir_dir, graph.name + ".ir")
        xcb_path = os.path.join(ir_dir, graph.name + ".xcb")
        write_ir(graph, ir_path, xcb_path)
        out_path = os.path.join(tmp, "program.pte")
        json_path = os.path.join(tmp, "report.json")
        cmd = compile_command(xnnd, ir_path, xcb_path, out_path, not delegate, print_report,
                              json_path)
        proc = subprocess.run(cmd, stdout=None if print_report else subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
        if proc.returncode != 0:
            raise ExportError("%s failed (exit %d): %s" % (" ".join(cmd), proc.returncode,
                                                           (proc.stderr or "").strip()),
                              exit_code=proc.returncode if proc.returncode > 0 else 1)
        with open(out_path, "rb") as f:
            program = f.read()
        report = read_report(json_path, origins)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return LoweringResult(program, report)


def read_report(json_path: str, origins: dict[str, str] | None = None) -> DelegationReport:
    """The report `xnnd compile --report-json` wrote; origins maps output names to modules."""
    with open(json_path) as f:
        raw = json.load(f)
    origins = origins or {}
    fields = {f.name for f in dataclasses.fields(NodeReport)}
    nodes = [NodeReport(**{k: v for k, v in n.items() if k in fields},
                        module=origins.get(n["output"])) for n in raw["nodes"]]
    return DelegationReport(raw["graph"], nodes, raw["partitions"], raw["macs_delegated"],
                            raw["macs_total"])


def write_ir(graph: ir_text.Graph, ir_path: str, xcb_path: str) -> list[tuple[int, bytes]]:
    """Write the text IR and the constant bundle; returns the bundle records."""
    records = ir_text.bundle_records(graph)
    with open(ir_path, "w", newline="\n") as f:
        f.write(ir_text.print_graph(graph))
    ir_text.write_bundle(xcb_path, records)
    return records


def _origins(gm: torch.fx.GraphModule) -> dict[str, str]:
    """IR value name (sanitized fx node name) -> module path, for the report."""
    out = {}
    for node in gm.graph.nodes:
        module = aten_map._module_path(node)
        if module:
            out[aten_map._NAME_RE.sub("_", node.name)] = module
    return out


def check_quantized_lowering(report: DelegationReport, allow_float: bool) -> None:
    """ExportError naming every quantized pattern left in float, unless allow_float."""
    missed = report.float_in_quantized()
    if missed and not allow_float:
        raise ExportError(
            "quantized pattern(s) not lowered to int8 (pass allow_float=True / "
            "--allow-float-fallback to run them in float):\n" + "\n".join(
                "  %s -> %%%s%s%s" % (n.op, n.output,
                                      " in module " + n.module if n.module else "",
                                      ": " + n.reason if n.reason else "") for n in missed))
    for n in missed:
        report.notes.append("%s -> %%%s runs in float (allow_float)" % (n.op, n.output))


def lower(exported_program: torch.export.ExportedProgram, *, name: str = "model",
          delegate: bool = True, allow_float: bool = False, xnnd_bin: str | None = None,
          keep_ir: str | None = None, print_report: bool = False) -> LoweringResult:
    """Lower an ExportedProgram the caller made (torch.export.export, optionally quantized with
    PT2E and the XNNPACK quantizer) to an xnnd program.

    Returns LoweringResult(program bytes, report). Raises ExportError (a clear one-line reason:
    unsupported op with its module path, toolchain failure, a quantized pattern that would run
    in float unless allow_float). The ExportedProgram is not modified."""
    graph, gm = graph_of(exported_program, name)
    result = compile_graph(graph, delegate=delegate, xnnd_bin=xnnd_bin, keep_ir=keep_ir,
                           print_report=print_report, origins=_origins(gm))
    if delegate:
        check_quantized_lowering(result.report, allow_float)
    return result


def export(module: torch.nn.Module, example_inputs: Sequence[torch.Tensor] | torch.Tensor, *,
           name: str | None = None, quantize: str | None = None, calibration_batches: int = 4,
           seed: int = 0, weight_quant: str = "per-channel", delegate: bool = True,
           allow_float: bool = False, xnnd_bin: str | None = None,
           calibration_data: Sequence[Sequence[torch.Tensor]] | None = None,
           capture: str = "auto", dynamic_shapes: Any = None) -> LoweringResult:
    """Capture `module` with torch.export (capture="auto": strict, then non-strict; or
    "strict" / "non-strict") and lower it. quantize="int8" quantizes with PT2E first, calibrated
    on calibration_data (input tuples) when given, else on `calibration_batches` seeded random
    batches.

    dynamic_shapes: as torch.export.export takes it (torch.export.Dim objects; `32*Dim(...)` for
    sizes that are multiples of 32); the program then runs at any size in the ranges. An example
    input of size 0 or 1 in a dynamic dim is replaced by one of a size in range (report.notes
    says so): torch.export would specialize the dim."""
    if isinstance(example_inputs, torch.Tensor):
        example_inputs = (example_inputs,)
    inputs = tuple(example_inputs)
    module = module.eval()
    notes: list[str] = []
    if quantize not in (None, "int8"):
        raise ExportError("quantize must be None or 'int8', got %r" % quantize)
    if dynamic_shapes is not None:
        inputs = trace.prepare_dynamic_inputs(inputs, dynamic_shapes, notes, seed, module)
        dynamic_shapes = trace.positional_dynamic_shapes(dynamic_shapes, len(inputs), module)
    if quantize:
        from . import quantize as quant
        module = quant.quantize_module(module, inputs, calibration_batches, seed, weight_quant,
                                       notes=notes, calibration_data=calibration_data,
                                       capture=capture, dynamic_shapes=dynamic_shapes)
    ep = trace.capture(module, inputs, notes, capture, dynamic_shapes)
    result = lower(ep, name=name or type(module).__name__, delegate=delegate,
                   allow_float=allow_float, xnnd_bin=xnnd_bin)
    result.report.notes[:0] = notes
    return result
