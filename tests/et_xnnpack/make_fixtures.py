"""Writes tests/fixtures/et_xnnpack/: small models exported by ExecuTorch (pinned 1.5.1) with its
XNNPACK partitioner, one XNNPACK delegate each, for tests/test_et_xnnpack.c.

Per model NAME:
  NAME.xnn    the delegate's processed bytes ("XH00" header, "XN01" flatbuffer, constants)
  NAME.named  the program's named_data entries the delegate uses:
              u32 count, then per entry u32 key_len, key, u64 size, bytes
  NAME.io     the delegate call's program tensors in the order of its arguments, inputs then
              outputs (outputs as ExecuTorch's own runtime computed them): u32 num_inputs,
              u32 num_outputs, then per tensor u32 dtype (xnnd_dtype: 0 f32, 2 i8, 3 u8, 4 i32),
              u32 rank, i64 dims[rank], data
Every MODELS entry is delegated whole (one DelegateCall, no KernelCall), so each argument of the
delegate call is a method input or output (the script checks that). Neither the inputs nor the
outputs need come in the method's order: add_mul's delegate takes (y, x) and gives (y + x, x * y)
for forward(x, y) -> (x * y, y + x). REFUSED entries (no .io) hold nodes xnnd refuses.

usage: PYTHONPATH=python:tests/python .venv/bin/python tests/et_xnnpack/make_fixtures.py [OUT_DIR]
       ... make_fixtures.py --torchvision OUT_DIR mobilenet_v2 resnet18 mobilenet_v2:int8 ...
         (larger, not committed: run by tests/test_et_xnnpack.c with XNND_ET_EXTRA=OUT_DIR:NAME,...)
"""
import os
import struct
import sys

import torch

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "fixtures", "et_xnnpack")
DTYPES = {torch.float32: 0, torch.int8: 2, torch.uint8: 3, torch.int32: 4}


class ConvBnRelu6(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3, padding=1)
        self.bn = torch.nn.BatchNorm2d(4)
        self.act = torch.nn.ReLU6()

    def forward(self, x):
        return self.act(self.bn(self.conv(x)))


class Depthwise(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.dw = torch.nn.Conv2d(4, 4, 3, stride=2, padding=1, groups=4)
        self.act = torch.nn.ReLU()

    def forward(self, x):
        return self.act(self.dw(x))


class Linear(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(16, 8)

    def forward(self, x):
        return torch.relu(self.fc(x))


class AddMul(torch.nn.Module):
    """Two inputs, two outputs returned in the opposite order of the nodes that compute them
    (and y used first), to pin the delegate call's argument order."""
    def forward(self, x, y):
        s = y + x
        p = x * y
        return p, s


class Pools(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3, padding=1)
        self.maxp = torch.nn.MaxPool2d(2)
        self.avgp = torch.nn.AvgPool2d(2)

    def forward(self, x):
        return self.avgp(self.maxp(self.conv(x)))


class Hardswish(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 8, 3, stride=2, padding=1)
        self.act = torch.nn.Hardswish()
        self.fc = torch.nn.Linear(8, 5)

    def forward(self, x):
        y = self.act(self.conv(x))
        y = torch.nn.functional.adaptive_avg_pool2d(y, 1).flatten(1)
        return torch.softmax(self.fc(y), dim=1)


class Elementwise(torch.nn.Module):
    def forward(self, x, y):
        s = torch.sigmoid(x)  # no literal constant: ExecuTorch would pass it as a delegate input
        return torch.clamp(s - y / (y.abs() + s), -0.5, 0.5)


class Deconv(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.up = torch.nn.ConvTranspose2d(4, 3, 3, stride=2, padding=1, output_padding=1)

    def forward(self, x):
        return self.up(x)


class Cat(torch.nn.Module):
    """Refused: ExecuTorch emits Concatenate2, which this XNNPACK lacks."""
    def forward(self, x, y):
        return torch.cat([x * 2.0, y], dim=1)


class Permute(torch.nn.Module):
    """Refused: an interior transpose of [2, 3, 4] (no boundary to fold it into)."""
    def forward(self, x):
        return torch.relu(x).permute(0, 2, 1) * 3.0


class QConv(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 8, 3, padding=1)
        self.act = torch.nn.ReLU()

    def forward(self, x):
        return self.act(self.conv(x))


MODELS = [
    ("conv_bn_relu6", ConvBnRelu6, [(1, 3, 8, 8)], False),
    ("depthwise", Depthwise, [(1, 4, 8, 8)], False),
    ("linear", Linear, [(2, 16)], False),
    ("add_mul", AddMul, [(1, 4, 5, 5), (1, 4, 5, 5)], False),
    ("pools", Pools, [(1, 3, 8, 8)], False),
    ("hardswish", Hardswish, [(1, 3, 8, 8)], False),
    ("elementwise", Elementwise, [(2, 6), (2, 6)], False),
    ("qconv", QConv, [(1, 3, 8, 8)], True),
    ("deconv", Deconv, [(1, 4, 5, 5)], False),
    ("qlinear", Linear, [(2, 16)], True),
]
# Delegates xnnd refuses (the test checks the message): .xnn and .named only.
REFUSED = [
    ("cat", Cat, [(2, 3), (2, 4)], False),
    ("permute", Permute, [(2, 3, 4)], False),
]


def lower(module, inputs, quantize):
    from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
    from executorch.exir import to_edge_transform_and_lower

    if quantize:
        from executorch.backends.xnnpack.quantizer.xnnpack_quantizer import (
            XNNPACKQuantizer, get_symmetric_quantization_config)
        from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

        captured = torch.export.export(module, inputs).module()
        quantizer = XNNPACKQuantizer().set_global(get_symmetric_quantization_config(is_per_channel=True))
        prepared = prepare_pt2e(captured, quantizer)
        g = torch.Generator().manual_seed(1)
        with torch.no_grad():
            for _ in range(4):
                prepared(*[torch.randn(t.shape, generator=g) for t in inputs])
        module = convert_pt2e(prepared)
    with torch.no_grad():
        ep = torch.export.export(module, inputs)
    return to_edge_transform_and_lower(ep, partitioner=[XnnpackPartitioner()]).to_executorch().buffer


def tensor_bytes(t):
    t = t.contiguous()
    out = struct.pack("<II", DTYPES[t.dtype], t.dim()) + struct.pack("<%dq" % t.dim(), *t.shape)
    return out + t.numpy().tobytes()


def write_fixture(out_dir, name, module, inputs, quantize, refused):
    from executorch.exir._serialize._program import deserialize_pte_binary
    from executorch.runtime import Runtime

    pte = lower(module, inputs, quantize)
    program = deserialize_pte_binary(pte)
    plan = program.program.execution_plan[0]
    instrs = [type(i.instr_args).__name__ for c in plan.chains for i in c.instructions]
    if (not refused and instrs != ["DelegateCall"]) or len(plan.delegates) != 1 \
            or plan.delegates[0].id != "XnnpackBackend":
        sys.exit("%s: expected one XNNPACK DelegateCall and nothing else, got %s" % (name, instrs))
    data = program.program.backend_delegate_data[plan.delegates[0].processed.index].data
    named = {}
    if program.named_data is not None:
        for key, entry in program.named_data.pte_data.items():
            named[key] = bytes(program.named_data.buffers[entry.buffer_index])
    used = {k: v for k, v in named.items() if k.encode() in data}
    with open(os.path.join(out_dir, name + ".xnn"), "wb") as f:
        f.write(data)
    with open(os.path.join(out_dir, name + ".named"), "wb") as f:
        f.write(struct.pack("<I", len(used)))
        for k in sorted(used):
            f.write(struct.pack("<I", len(k)) + k.encode() + struct.pack("<Q", len(used[k])) + used[k])
    outputs = Runtime.get().load_program(pte).load_method("forward").execute(list(inputs))
    # The delegate call's arguments (EValue indices) in order; each is a method input or
    # output. Neither need come in the method's order.
    args = [i.instr_args for c in plan.chains for i in c.instructions][0].args
    by_value = {v: t for v, t in zip(plan.inputs, inputs)}
    by_value.update({v: t for v, t in zip(plan.outputs, outputs)})
    if refused:
        args = []
    elif len(args) != len(inputs) + len(outputs) or sorted(args[:len(inputs)]) != sorted(plan.inputs) \
            or sorted(args[len(inputs):]) != sorted(plan.outputs):
        sys.exit("%s: delegate arguments %s are not the method's inputs %s and outputs %s" %
                 (name, args, plan.inputs, plan.outputs))
    if not refused:
        with open(os.path.join(out_dir, name + ".io"), "wb") as f:
            f.write(struct.pack("<II", len(inputs), len(outputs)))
            for a in args:
                f.write(tensor_bytes(by_value[a]))
    print("%s: delegate %d bytes, %d named entries (%d bytes), delegate arguments %s (method inputs %s, outputs %s)%s" %
          (name, len(data), len(used), sum(len(v) for v in used.values()), args, plan.inputs, plan.outputs,
           " (refused by xnnd: no .io)" if refused else ""))


def main():
    if len(sys.argv) > 2 and sys.argv[1] == "--torchvision":
        # Not committed (megabytes): torchvision models with random weights
        # (tests/models/torchvision_random.py), NAME or NAME:int8, for XNND_ET_EXTRA.
        sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "models"))
        import torchvision_random
        out_dir = sys.argv[2]
        os.makedirs(out_dir, exist_ok=True)
        for spec in sys.argv[3:]:
            model_name, _, precision = spec.partition(":")
            module, inputs = getattr(torchvision_random, model_name)()
            write_fixture(out_dir, spec.replace(":", "_"), module, inputs, precision == "int8", False)
        return
    out_dir = sys.argv[1] if len(sys.argv) > 1 else OUT
    os.makedirs(out_dir, exist_ok=True)
    for name, cls, shapes, quantize, refused in [m + (False,) for m in MODELS] + [m + (True,) for m in REFUSED]:
        torch.manual_seed(0)
        module = cls().eval()
        with torch.no_grad():
            for m in module.modules():  # non-trivial batch norm statistics
                if isinstance(m, torch.nn.BatchNorm2d):
                    m.running_mean.uniform_(-0.5, 0.5)
                    m.running_var.uniform_(0.5, 2.0)
                    m.weight.uniform_(0.5, 1.5)
                    m.bias.uniform_(-0.2, 0.2)
        g = torch.Generator().manual_seed(2)
        inputs = tuple(torch.randn(s, generator=g) for s in shapes)
        write_fixture(out_dir, name, module, inputs, quantize, refused)


if __name__ == "__main__":
    main()
