"""Argument normalization for the reduce family's RULES entries in aten_map (sum, prod,
amax/amin, any, var, argmax/argmin, max/min.dim, cumsum, sort, topk, group norm, batch-statistics
batch norm). Getters and checks take an aten_map.Call.

Dim lists are made non-negative and sorted; a dim list that PyTorch reads as "all dims" (None,
or [] for sum/prod/amax/amin/var) becomes every dim explicitly. dtype attributes carry the
xnnd dtype of the op's output as PyTorch computed it (ints and bool sum to int64 unless the
dtype argument says otherwise)."""

from __future__ import annotations

# xnnd_dtype wire values (include/xnnd/xnnd.h).
XNND_DTYPE = {"torch.float32": 0, "torch.float16": 1, "torch.int8": 2, "torch.uint8": 3,
              "torch.int32": 4, "torch.int64": 5, "torch.bool": 6}


def _self(call):
    return "input" if "input" in call.args else "self"


def _norm(d, rank):
    d = int(d)
    if rank == 0:
        return 0
    return d + rank if d < 0 else d


def dims(call):
    """The dim argument as a sorted non-negative list; None or [] -> all dims."""
    dim = call.args.get("dim")
    rank = call.rank(_self(call))
    if dim is None or (isinstance(dim, (list, tuple)) and len(dim) == 0):
        return list(range(rank))
    if isinstance(dim, int):
        dim = [dim]
    return sorted({_norm(d, rank) for d in dim})


def all_dims(call):
    return list(range(call.rank(_self(call))))


def one_dim(call):
    """A single dim argument, non-negative against the input's rank."""
    return _norm(call.arg("dim"), call.rank(_self(call)))


def opt_dim(call):
    dim = call.args.get("dim")
    return None if dim is None else _norm(dim, call.rank(_self(call)))


def out_dtype(call):
    """The xnnd dtype of output 0."""
    return XNND_DTYPE.get(str(call.out_metas[0].dtype), 0)


def no_keepdim(call):
    return False


def any_dims_check(call):
    dim = call.args.get("dim")
    if dim is not None and len(dim) == 0:
        call.unsupported("dim=[] (PyTorch reduces no dim: an elementwise x != 0)")


def var_correction(call):
    if "unbiased" in call.args:
        return 1.0 if call.arg("unbiased") else 0.0
    c = call.args.get("correction")
    return 1.0 if c is None else float(c)


def topk_k(call):
    return int(call.arg("k"))


def group_norm_int(name):
    def get(call):
        return int(call.arg(name))
    return get


def batch_norm_training(call):
    if not call.arg("training"):
        call.unsupported("training=False (eval-mode batch norm exports as "
                         "_native_batch_norm_legit_no_training)")

