#!/usr/bin/env bash
# Dynamic shapes end to end (issue 19): each model exported ONCE with dynamic dims, then run by
# `xnnd run` at many sizes and compared with eager PyTorch at each size (tests/dynamic_models.py):
# resnet18 at batch 1..8 (every batch), mobilenet_v2 at image sizes 160..256 in steps of 32 (H
# and W separate symbols; every square size and 256x160), nn.TransformerEncoderLayer (d_model 64,
# batch_first; delegated exactly as static) at sequence lengths 1, 2, 17, 64, 128 of 1..128, each
# within 1e-4 of max|torch|;
# an int8 conv block (PT2E) at batch 1..8 within one output quantization step of PyTorch's
# reference quantized model; a small CNN through xnnd.export(dynamic_shapes=) at batch 1..4.
# Then `xnnd export --dynamic` from the command line: a program whose batch is 1..4 runs at batch
# 3, its bundle's cases at several batches pass `xnnd run --verify`, and a batch outside the
# range is refused naming the bound.
source "$(dirname "$0")/lib/common.bash"
PYTHONPATH=python "$PY" tests/dynamic_models.py --xnnd "$XNND" --work "$TMP" \
  resnet18 mobilenet_v2 encoder int8 api

# the CLI: --dynamic, an example of batch 1 (replaced for the capture), a run at another batch
export_model tests/models/small.py:convnet convnet --dynamic 0:0=1..4 --capture non-strict \
  --bundle --bundle-cases 5 2> "$TMP/convnet.log"
grep -q "has size 1 in dynamic dim 0" "$TMP/convnet.log" || { echo "FAIL: no note on the size-1 example" >&2; cat "$TMP/convnet.log" >&2; exit 1; }
grep -q "dynamic size s0 = 1..4" "$TMP/convnet.log" || { echo "FAIL: no dynamic size line" >&2; exit 1; }
run_and_compare convnet
# the bundle's cases take batch 1, 4, 1 and two seeded batches: one method changes shape between them
"$XNND" run --verify "$TMP/convnet.bundle"
"$PY" - "$TMP" <<'PY'
import sys, numpy as np
x = np.random.default_rng(0).standard_normal((3, 3, 16, 16)).astype(np.float32)
np.save(sys.argv[1] + "/b3.npy", x)
np.save(sys.argv[1] + "/b5.npy", np.concatenate([x, x[:2]]))
PY
"$XNND" run "$TMP/convnet.pte" --input "$TMP/b3.npy" --iters 1 --warmup 0 >/dev/null
if "$XNND" run "$TMP/convnet.pte" --input "$TMP/b5.npy" --iters 1 --warmup 0 2> "$TMP/b5.err" >/dev/null; then
  echo "FAIL: batch 5 of a 1..4 program ran" >&2; exit 1
fi
grep -q "dim 0 = 5" "$TMP/b5.err" || { echo "FAIL: batch 5 refused without naming the dim:" >&2; cat "$TMP/b5.err" >&2; exit 1; }
echo "PASS dynamic_models"
