#!/usr/bin/env bash
# int8 on a trained model: a small CNN trained here (seeded, a few seconds) on scikit-learn's
# 8x8 digits, quantized with PT2E (calibrated on training images), exported fp32 and int8 with
# the Python API and run on the 359 held-out images by the C runtime (examples/digits_demo.py).
# Fails unless xnnd int8's top-1 accuracy is within 1 point of the float model's, xnnd int8
# predicts PyTorch's PT2E reference class on at least 99% of images, and xnnd fp32 matches
# PyTorch float (1e-4 relative, same class everywhere).
source "$(dirname "$0")/lib/common.bash"
XNND_BIN=$XNND "$PY" examples/digits_demo.py --out "$TMP/digits" --iters 3
echo "PASS quant_trained"
