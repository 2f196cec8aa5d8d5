"""Import torchvision for its model definitions, whether or not its C++ ops load.

The torchvision wheel that pip finds next to the CPU torch build is PyPI's, whose C++ extension
(`torchvision/_C.so`, detection ops such as nms and roi_align) links CUDA torch libraries and
does not load beside a CPU torch. torchvision then still imports its pure-Python models, except
that two fake-tensor registrations (`torchvision::nms`, `torchvision::qnms`) run unconditionally
and fail with "operator torchvision::nms does not exist". xnnd needs only the models, so
import_torchvision() first tries to load the extension exactly as torchvision would; only when
that fails does it declare the two op schemas (no kernels: calling them raises) so the import
completes. The classification models never call them.
"""

from __future__ import annotations

import importlib.util
import os
import types

import torch

_SCHEMAS = ("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
            "qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
_fragment = None  # keeps the declared schemas alive


def _extension_loads() -> bool:
    spec = importlib.util.find_spec("torchvision")
    if spec is None or not spec.submodule_search_locations:
        return False
    for folder in spec.submodule_search_locations:
        for name in os.listdir(folder):
            if name.startswith("_C.") and name.endswith((".so", ".pyd")):
                try:
                    torch.ops.load_library(os.path.join(folder, name))
                    return True
                except (OSError, RuntimeError):
                    return False
    return False


def import_torchvision() -> types.ModuleType:
    """The torchvision module; raises ImportError when torchvision is not installed."""
    global _fragment
    import sys
    if "torchvision" in sys.modules:
        return sys.modules["torchvision"]
    if importlib.util.find_spec("torchvision") is None:
        raise ImportError("torchvision is not installed (run scripts/install-deps)")
    if not _extension_loads() and _fragment is None:
        missing = [s for s in _SCHEMAS
                   if not torch._C._jit_get_schemas_for_operator("torchvision::" + s.split("(")[0])]
        if missing:
            _fragment = torch.library.Library("torchvision", "FRAGMENT")
            for schema in missing:
                _fragment.define(schema)
    import torchvision
    return torchvision
