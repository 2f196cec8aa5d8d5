"""xnnd exporter: PyTorch model -> text IR + constant bundle -> `xnnd compile` -> .pte.

Entry point: `python3 -m xnnd export SPEC -o OUT.pte` (cli.py). Stages: trace.py (load and
trace), aten_map.py (aten -> IR op table), ir_text.py (text IR and bundle formats).
"""
