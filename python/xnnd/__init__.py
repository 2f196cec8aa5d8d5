"""xnnd's exporter: PyTorch 2 model -> torch.export -> core ATen -> text IR + constant bundle ->
`xnnd compile` (passes, partitioner, serializer) -> .pte program.

Python API (api.py): xnnd.lower(exported_program) and xnnd.export(module, example_inputs), each
returning the program bytes and the delegation report as data. CLI: `python -m xnnd export SPEC
-o OUT.pte` (cli.py). Stages: trace.py (load, capture, decompose), quantize.py (PT2E int8),
aten_map.py (core ATen -> IR op table), ir_text.py (text IR and bundle formats).
"""

from typing import Any

__all__ = ["lower", "export", "LoweringResult", "DelegationReport", "NodeReport", "ExportError"]


def __getattr__(name: str) -> Any:  # torch is imported on first use, not on `import xnnd`
    if name in ("lower", "export", "LoweringResult", "DelegationReport", "NodeReport"):
        from . import api
        return getattr(api, name)
    if name == "ExportError":
        from .errors import ExportError
        return ExportError
    raise AttributeError(name)
