"""The benchmark's results: rows, the per-model summary against the targets of issue 17, the
fp32 FMA peak of this core, the markdown report and the PNG charts."""

import os
import statistics

import models

LABELS = {
    "xnnd": "xnnd", "xnnd-int8": "xnnd int8", "xnnd-no-pointwise": "xnnd, pointwise-affine off",
    "xnnd-et-pte": "xnnd runtime, ExecuTorch's .pte",
    "executorch": "ExecuTorch", "onnxruntime": "ONNX Runtime", "litert": "LiteRT",
    "torch": "PyTorch eager",
}
PEER_COLUMNS = ["executorch", "onnxruntime", "litert", "torch"]
COLORS = {"xnnd": "#1f77b4", "xnnd-int8": "#08306b", "xnnd-no-pointwise": "#9ecae1",
          "xnnd-et-pte": "#6baed6",
          "executorch": "#ff7f0e", "onnxruntime": "#2ca02c", "litert": "#9467bd",
          "torch": "#d62728"}

CSV_FIELDS = ["model", "precision", "threads", "engine", "status", "median_ms", "min_ms",
              "rounds", "pooled_median_ms", "load_ms", "first_ms", "check", "note"]


def fma_flops_per_cycle(vendor, family, flags):
    """fp32 FLOP per cycle of one core's FMA units (2 per lane per FMA), from the vendor,
    family and feature flags; (value, why)."""
    if "fma" not in flags:
        return (8 if "avx" in flags else 4), "no FMA: one vector add + one multiply per cycle"
    if vendor == "AuthenticAMD":
        if family == 0x17:
            return 32, "AMD family 17h (Zen 2): two 256-bit FMA pipes (Zen 1: half)"
        if family == 0x19:
            return 32, ("AMD family 19h (Zen 3/Zen 4): two 256-bit FMA pipes; Zen 4 runs a "
                        "512-bit FMA as two 256-bit halves, so AVX-512 does not raise the peak")
        if family >= 0x1A and "avx512f" in flags:
            return 64, "AMD family 1Ah (Zen 5) with AVX-512: two 512-bit FMA pipes"
        return 32, "AMD: two 256-bit FMA pipes assumed"
    if "avx512f" in flags:
        return 64, "Intel with AVX-512: two 512-bit FMA units assumed (some SKUs have one)"
    return 32, "two 256-bit FMA units (AVX2 + FMA3)"


def fp32_peak(info, flags, measured):
    """This core's fp32 FMA peak: the measured clock (a dependent integer-add chain, one add per
    cycle) times the FLOP/cycle its CPU features imply. The measured FMA throughput (12
    independent FMA chains) is kept beside it as a cross-check."""
    per_cycle, why = fma_flops_per_cycle(info.get("cpu_vendor"), info.get("cpu_family"), flags)
    ghz = measured.get("clock_ghz")
    return {"clock_ghz": ghz, "flops_per_cycle": per_cycle, "why": why,
            "gflops_per_core": ghz * per_cycle if ghz else None,
            "measured_fma_gflops_avx2": measured.get("fma_gflops_avx2"),
            "measured_fma_gflops_avx512": measured.get("fma_gflops_avx512")}


def result_rows(configs, refs):
    rows = []
    for c in configs:
        ok = c.status == "ok" and c.round_medians
        ref = refs.get(c.model.name)
        rows.append({
            "model": c.model.name, "precision": c.model.precision, "threads": c.threads,
            "engine": c.engine, "status": c.status if (ok or c.status != "ok") else "failed",
            "median_ms": c.median() if ok else None,
            "min_ms": min(c.round_mins) if ok else None,
            "rounds": len(c.round_medians), "round_medians_ms": c.round_medians,
            "pooled_median_ms": statistics.median(c.samples) if c.samples else None,
            "load_ms": c.load_ms, "first_ms": c.first_ms, "check": c.check,
            "flops": ref[1] if isinstance(ref, tuple) else None,
            "cold": c.cold or None, "note": c.note,
        })
    return rows


def target_of(model_name, precision):
    if precision == "int8":
        return "int8", 0.9
    base = model_name
    if base in models.TRANSFORMERS:
        return "transformer", 1.0
    return "fp32 CNN", 0.9


def summarize(rows, threads, peak):
    """One entry per (model, threads): xnnd against the fastest peer, the target and GFLOP/s."""
    by = {(r["model"], r["engine"], r["threads"]): r for r in rows}
    out = []
    names = []
    for r in rows:
        if r["model"] not in names:
            names.append(r["model"])
    for name in names:
        m = next(x for x in models.MODELS if x.name == name)
        xe = m.xnnd[0][0]
        for t in threads:
            xr = by.get((name, xe, t))
            if xr is None:
                continue
            peers = {p: by[(name, p, t)]["median_ms"] for p in PEER_COLUMNS
                     if (name, p, t) in by and by[(name, p, t)]["median_ms"]}
            mins = {p: by[(name, p, t)]["min_ms"] for p in peers}
            fastest = min(peers, key=peers.get) if peers else None
            x = xr["median_ms"]
            kind, limit = target_of(name, m.precision)
            s = {"model": name, "precision": m.precision, "threads": t, "xnnd_engine": xe,
                 "xnnd_ms": x, "xnnd_status": xr["status"], "peers_ms": peers,
                 "fastest_peer": fastest, "fastest_ms": peers.get(fastest),
                 "xnnd_over_fastest": x / peers[fastest] if x and fastest else None,
                 "xnnd_min_over_fastest_min": (xr["min_ms"] / min(mins.values())
                                               if x and mins else None),
                 "target": kind, "target_ratio": limit}
            if m.precision == "int8":
                base = by.get((m.base, "xnnd", t))
                et = peers.get("executorch")
                s["xnnd_fp32_ms"] = base["median_ms"] if base else None
                s["int8_over_fp32"] = x / s["xnnd_fp32_ms"] if x and s["xnnd_fp32_ms"] else None
                s["xnnd_over_executorch"] = x / et if x and et else None
                s["met"] = (s["xnnd_over_executorch"] is not None and
                            s["xnnd_over_executorch"] <= limit and
                            s["int8_over_fp32"] is not None and s["int8_over_fp32"] < 1.0)
            else:
                s["met"] = s["xnnd_over_fastest"] is not None and s["xnnd_over_fastest"] <= limit
                if x and xr["flops"]:
                    s["gflops"] = xr["flops"] / (x * 1e6)
                    if peak.get("gflops_per_core"):
                        s["peak_share"] = s["gflops"] / (peak["gflops_per_core"] * t)
            out.append(s)
    return out


def _ms(v):
    if v is None:
        return "-"
    return "%.0f" % v if v >= 100 else "%.2f" % v if v < 10 else "%.1f" % v


def _cell(by, name, engine, t, notes):
    r = by.get((name, engine, t))
    if r is None:
        return " "
    if r["median_ms"] is not None:
        return _ms(r["median_ms"])
    note = r["note"] or r["status"]
    if note not in notes:
        notes.append(note)
    return "%s [%d]" % (r["status"], notes.index(note) + 1)


def same_pte_table(by, summary, notes):
    """The same ExecuTorch .pte timed by ExecuTorch's runtime and by xnnd's (issue 20)."""
    keys = [(s["model"], s["threads"]) for s in summary
            if (s["model"], "xnnd-et-pte", s["threads"]) in by]
    if not keys:
        return []
    lines = ["", "## One ExecuTorch .pte, two runtimes", "",
             "The file ExecuTorch's toolchain wrote (its XNNPACK partitioner; int8 through its "
             "quantizer), timed in the same rounds by ExecuTorch's runtime and by xnnd's, which "
             "loads ExecuTorch programs. A delegate needing a node this machine's XNNPACK lacks "
             "fails at load in xnnd with the node's name.", "",
             "| model | thr | ExecuTorch runtime | xnnd runtime | xnnd / ExecuTorch |",
             "|---|---|---|---|---|"]
    for name, t in keys:
        et, xe = by.get((name, "executorch", t)), by[(name, "xnnd-et-pte", t)]
        ratio = (xe["median_ms"] / et["median_ms"]
                 if et and et["median_ms"] and xe["median_ms"] else None)
        lines.append("| %s | %d | %s | %s | %s |" % (
            name, t, _cell(by, name, "executorch", t, notes), _cell(by, name, "xnnd-et-pte", t, notes),
            "-" if ratio is None else "%.2f" % ratio))
    return lines


def markdown(rows, summary, info, settings, unavailable, scaling):
    by = {(r["model"], r["engine"], r["threads"]): r for r in rows}
    notes = []
    peers = [p for p in PEER_COLUMNS if p in settings["peers"]]
    lines = ["# xnnd against its peers", "",
             "Batch 1, median latency in ms (median over %d interleaved rounds of %d "
             "iterations each, after %d warm-up iterations). `xnnd / fastest` below 1 means "
             "xnnd is faster than every peer; the target column is issue 17's. The last "
             "column compares fastest single iterations instead (xnnd's min over the "
             "smallest min of any peer), which is less sensitive to other work on the "
             "machine." % (
                 settings["rounds"], settings["iters_per_round"], settings["warmup"]), ""]
    head = ["model", "prec", "thr", "xnnd"] + [LABELS[p] for p in peers] + \
        ["fastest peer", "xnnd / fastest", "target", "met", "min: xnnd / fastest"]
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for s in summary:
        name, t = s["model"], s["threads"]
        cells = [name, s["precision"], str(t), _cell(by, name, s["xnnd_engine"], t, notes)]
        cells += [_cell(by, name, p, t, notes) for p in peers]
        if s["precision"] == "int8":
            ratio = s.get("xnnd_over_executorch")
            tgt = "<= %.1f x ExecuTorch int8, < xnnd fp32" % s["target_ratio"]
        else:
            ratio = s["xnnd_over_fastest"]
            tgt = "<= %.1f" % s["target_ratio"]
        cells += [LABELS.get(s["fastest_peer"], "-"),
                  "-" if s["xnnd_over_fastest"] is None else "%.2f" % s["xnnd_over_fastest"],
                  tgt, "yes" if s["met"] else ("no" if ratio is not None else "-"),
                  "-" if s["xnnd_min_over_fastest_min"] is None
                  else "%.2f" % s["xnnd_min_over_fastest_min"]]
        lines.append("| " + " | ".join(cells) + " |")
    int8 = [s for s in summary if s["precision"] == "int8"]
    if int8:
        lines += ["", "int8 against xnnd fp32 and ExecuTorch int8:", "",
                  "| model | thr | xnnd int8 | xnnd fp32 | int8 / fp32 | ExecuTorch int8 | "
                  "xnnd int8 / ExecuTorch int8 |", "|---|---|---|---|---|---|---|"]
        for s in int8:
            f = lambda v: "-" if v is None else "%.2f" % v  # noqa: E731
            lines.append("| %s | %d | %s | %s | %s | %s | %s |" % (
                s["model"], s["threads"], _ms(s["xnnd_ms"]), _ms(s.get("xnnd_fp32_ms")),
                f(s.get("int8_over_fp32")), _ms(s["peers_ms"].get("executorch")),
                f(s.get("xnnd_over_executorch"))))
    lines += same_pte_table(by, summary, notes)
    peak = info["peak"]
    lines += ["", "## xnnd's achieved fp32 throughput", "",
              "FLOPs counted by torch.utils.flop_counter on the eager model (2 per "
              "multiply-accumulate of convolutions and matrix products). Peak of one core: "
              "measured clock %s GHz x %d FLOP/cycle = **%s GFLOP/s** (%s); measured FMA "
              "throughput of one core: %s GFLOP/s (AVX2), %s GFLOP/s (AVX-512). Share = "
              "GFLOP/s / (peak x threads). These are effective GFLOP/s: the FLOPs are the direct "
              "form's, and xnnd runs 3x3 stride-1 convolutions with Winograd F(4x4, 3x3), "
              "which needs 4x fewer multiplications, so a share above 100%% is possible on "
              "ResNets. The latency is wall time on a shared machine." % (
                  "%.2f" % peak["clock_ghz"] if peak.get("clock_ghz") else "?",
                  peak["flops_per_cycle"],
                  "%.1f" % peak["gflops_per_core"] if peak.get("gflops_per_core") else "?",
                  peak["why"], "%.1f" % (peak.get("measured_fma_gflops_avx2") or 0),
                  "%.1f" % (peak.get("measured_fma_gflops_avx512") or 0)), "",
              "| model | thr | GFLOP | xnnd ms | GFLOP/s | share of peak |",
              "|---|---|---|---|---|---|"]
    for s in summary:
        if s.get("gflops"):
            flops = by[(s["model"], s["xnnd_engine"], s["threads"])]["flops"]
            lines.append("| %s | %d | %.2f | %s | %.1f | %s |" % (
                s["model"], s["threads"], flops / 1e9, _ms(s["xnnd_ms"]), s["gflops"],
                "%.0f%%" % (100 * s["peak_share"]) if s.get("peak_share") else "-"))
    cold = [r for r in rows if r["cold"]]
    if cold:
        lines += ["", "## Load + first execute, peak RSS (fresh process, %d thread%s, median "
                  "of %d)" % (cold[0]["threads"], "s" if cold[0]["threads"] > 1 else "",
                              settings["cold_repeat"]), "",
                  "load = mapping/parsing the program and initializing its delegates (xnnd: "
                  "program load + method create; ExecuTorch: load_program + load_method). "
                  "Peak RSS is the process's VmHWM after the first execute; the ExecuTorch "
                  "process is Python with torch imported, so its growth over the "
                  "pre-load VmHWM is given too.", "",
                  "| model | engine | load ms | first execute ms | load + first ms | "
                  "peak RSS MB | RSS growth MB |", "|---|---|---|---|---|---|---|"]
        for r in cold:
            c = r["cold"]
            if "error" in c:
                lines.append("| %s | %s | failed: %s | | | | |" % (r["model"], LABELS[r["engine"]],
                                                                 c["error"]))
                continue
            lines.append("| %s | %s | %s | %s | %s | %.0f | %.0f |" % (
                r["model"], LABELS[r["engine"]], _ms(c["load_total_ms"]), _ms(c["first_ms"]),
                _ms(c["load_first_ms"]), c["hwm_kb"] / 1024,
                (c["hwm_kb"] - c["hwm_before_kb"]) / 1024))
    checks = [r for r in rows if r["check"] is not None and r["threads"] == settings["threads"][0]]
    if checks:
        lines += ["", "Output check of the timed artifacts: max |out - eager fp32| / max "
                  "|eager fp32| on output 0 (int8 rows differ from fp32 by their quantization "
                  "error; xnnd is checked by its own test suite, not here):", ""]
        lines.append(", ".join("%s/%s %s" % (r["model"], r["engine"],
                                             "%.1e" % r["check"] if isinstance(r["check"], float)
                                             else r["check"]) for r in checks))
    if notes:
        lines += ["", "Notes:", ""]
        lines += ["%d. %s" % (i + 1, n) for i, n in enumerate(notes)]
    gone = {p: why for p, why in unavailable.items() if why}
    if gone:
        lines += ["", "Peers not available in this run: " + "; ".join(
            "%s: %s" % (LABELS[p], why) for p, why in gone.items())]
    lines += ["", "Machine: %s, %s logical CPUs, %s; load average %.2f at start, %.2f at end. "
              "%s" % (info.get("cpu"), info.get("nproc"), info.get("platform"),
                      info["loadavg_start"][0], info["loadavg_end"][0],
                      "; ".join(sorted(info.get("versions", {}).values())))]
    if scaling:
        import lowering_scaling
        lines += ["", "## Toolchain scaling", "", "```",
                  lowering_scaling.format_table(scaling), "```"]
    return "\n".join(lines) + "\n"


def draw_charts(out_dir, rows, summary, threads):
    """latency.png (medians, log scale, a panel per thread count), ratio.png (xnnd / fastest
    peer against the targets) and coldstart.png; [] when matplotlib is missing."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.patches import Patch
    except ImportError:
        return []
    written = []
    names = []
    engines_of = {}
    for r in rows:
        if r["model"] not in engines_of:
            names.append(r["model"])
            engines_of[r["model"]] = []
        if r["engine"] not in engines_of[r["model"]]:
            engines_of[r["model"]].append(r["engine"])
    all_engines = []
    for n in names:
        for e in engines_of[n]:
            if e not in all_engines:
                all_engines.append(e)
    by = {(r["model"], r["engine"], r["threads"]): r for r in rows}
    timed = [r["median_ms"] for r in rows if r["median_ms"]]

    fig, axes = plt.subplots(len(threads), 1, figsize=(max(10, 1.4 * len(names)),
                                                       3.8 * len(threads) + 1), squeeze=False)
    for ax, t in zip(axes[:, 0], threads):
        for i, name in enumerate(names):
            engines = engines_of[name]
            width = 0.8 / len(engines)
            for j, e in enumerate(engines):
                x = i - 0.4 + width * (j + 0.5)
                r = by.get((name, e, t))
                if r is None:
                    continue
                if r["median_ms"]:
                    ax.bar(x, r["median_ms"], width * 0.95, color=COLORS.get(e, "gray"))
                    ax.annotate(_ms(r["median_ms"]), (x, r["median_ms"]), ha="center",
                                va="bottom", fontsize=6, xytext=(0, 2),
                                textcoords="offset points", rotation=90)
                else:
                    ax.text(x, 0.03, r["status"], rotation=90, ha="center", va="bottom",
                            fontsize=6, color="gray", transform=ax.get_xaxis_transform())
        ax.set_yscale("log")
        if timed:
            ax.set_ylim(min(timed) / 2, max(timed) * 4)
        ax.set_xlim(-0.5, len(names) - 0.5)
        ax.set_xticks(range(len(names)))
        ax.set_xticklabels(names, fontsize=8, rotation=20)
        ax.set_ylabel("median latency, ms (log)")
        ax.set_title("%d thread%s" % (t, "s" if t > 1 else ""), fontsize=10)
        ax.grid(axis="y", which="both", alpha=0.3)
    fig.legend(handles=[Patch(color=COLORS.get(e, "gray"), label=LABELS.get(e, e))
                        for e in all_engines], loc="lower center", ncol=6, fontsize=8,
               frameon=False)
    fig.suptitle("xnnd and its peers, batch 1, this machine (lower is better)", fontsize=11)
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    fig.savefig(os.path.join(out_dir, "latency.png"), dpi=110)
    plt.close(fig)
    written.append("latency.png")

    ratios = [s for s in summary if s["xnnd_over_fastest"]]
    if ratios:
        fig, ax = plt.subplots(figsize=(max(8, 0.9 * len(names)), 4.5))
        width = 0.8 / len(threads)
        for j, t in enumerate(threads):
            xs, ys, cs = [], [], []
            for i, name in enumerate(names):
                s = next((s for s in ratios if s["model"] == name and s["threads"] == t), None)
                if s:
                    xs.append(i - 0.4 + width * (j + 0.5))
                    ys.append(s["xnnd_over_fastest"])
                    cs.append(COLORS.get(s["fastest_peer"], "gray"))
            ax.bar(xs, ys, width * 0.95, color=cs, edgecolor="black",
                   hatch="" if j == 0 else "//")
            for x, y in zip(xs, ys):
                ax.annotate("%.2f" % y, (x, y), ha="center", va="bottom", fontsize=7)
        ax.set_yscale("log")
        ax.axhline(1.0, color="black", lw=0.8)
        ax.axhline(0.9, color="black", lw=0.8, ls="--")
        ax.set_xticks(range(len(names)))
        ax.set_xticklabels(names, fontsize=8, rotation=20)
        ax.set_ylabel("xnnd / fastest peer (lower is better)")
        ax.set_title("xnnd against the fastest peer (bar colour: that peer; plain: %s; "
                     "hatched: %s); dashed: 0.9 target" % tuple(
                         "%dT" % t for t in (threads + threads)[:2]), fontsize=9)
        ax.legend(handles=[Patch(color=COLORS[p], label=LABELS[p]) for p in PEER_COLUMNS],
                  fontsize=7, loc="upper left")
        fig.tight_layout()
        fig.savefig(os.path.join(out_dir, "ratio.png"), dpi=110)
        plt.close(fig)
        written.append("ratio.png")

    cold = [r for r in rows if r["cold"] and "error" not in r["cold"]]
    if cold:
        cnames = []
        for r in cold:
            if r["model"] not in cnames:
                cnames.append(r["model"])
        fig, (a1, a2) = plt.subplots(1, 2, figsize=(max(10, 1.6 * len(cnames)), 4.5))
        ce = []
        for r in cold:
            if r["engine"] not in ce:
                ce.append(r["engine"])
        width = 0.8 / len(ce)
        for j, e in enumerate(ce):
            for i, n in enumerate(cnames):
                r = next((r for r in cold if r["model"] == n and r["engine"] == e), None)
                if not r:
                    continue
                x = i - 0.4 + width * (j + 0.5)
                a1.bar(x, r["cold"]["load_first_ms"], width * 0.95, color=COLORS.get(e))
                a2.bar(x, r["cold"]["hwm_kb"] / 1024, width * 0.95, color=COLORS.get(e))
        for ax, yl in ((a1, "load + first execute, ms"), (a2, "peak RSS, MB")):
            ax.set_xticks(range(len(cnames)))
            ax.set_xticklabels(cnames, fontsize=8, rotation=20)
            ax.set_ylabel(yl)
            ax.set_yscale("log")
            ax.grid(axis="y", which="both", alpha=0.3)
        a1.legend(handles=[Patch(color=COLORS.get(e), label=LABELS.get(e, e)) for e in ce],
                  fontsize=8)
        fig.suptitle("cold start in a fresh process (ExecuTorch's RSS includes Python + torch)",
                     fontsize=10)
        fig.tight_layout()
        fig.savefig(os.path.join(out_dir, "coldstart.png"), dpi=110)
        plt.close(fig)
        written.append("coldstart.png")
    return written
