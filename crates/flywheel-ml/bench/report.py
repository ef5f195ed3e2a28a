"""Prints the flywheel-ml benchmark table (markdown) and writes DIR/report.md.

    python report.py DIR

Reads DIR/meta.json, DIR/rust.json and DIR/python.json. Standard library only.
"""

import json
import os
import platform
import sys

TOLERANCE_PCT = 1.0  # "equal quality": metric within 1 %
GBT_TARGET = 1.5  # boosted trees: within 1.5× of LightGBM's time

TASKS = [
    # (id, title with {shape} filled from meta.json, which anchor rules apply)
    ("logreg_fraud", "Logistic regression, fraud-shaped {fraud}", "sklearn"),
    ("gbt_fraud", "Boosted trees, fraud-shaped {fraud}", "gbt"),
    ("gbt_regression", "Boosted trees, regression {reg}", "gbt"),
    ("linreg_regression", "Linear regression, regression {reg} (extra row)", "sklearn"),
    ("kmeans_blobs", "k-means k = 8, blobs {blobs}", "sklearn"),
    ("pca_lowrank", "PCA 10 components, low rank + noise {pca}", "sklearn"),
    ("knn_classify", "k-NN k = 5, {knn}", "sklearn"),
    ("rcf_stream", "Random cut forest, stream {stream}", "rcf"),
    ("lda_corpus", "LDA 10 topics, corpus {lda}", "sklearn"),
    ("lda_sotu", "LDA 8 topics, State of the Union passages since 1946, {sotu}", "sklearn"),
]
FLYWHEEL = "flywheel-ml"
ANCHOR = "scikit-learn"


def load(path):
    with open(path) as f:
        return json.load(f)


def shapes(meta):
    a = meta["arrays"]

    def rows(*names):
        return sum(a[n]["rows"] for n in names)

    def split(name):
        tr, te = a[f"{name}_x_train"], a[f"{name}_x_test"]
        return f"{tr['rows'] + te['rows']:,} × {tr['cols']} (train {tr['rows']:,} / test {te['rows']:,})"

    f = meta["fraud"]
    return dict(
        fraud=f"{split('fraud')}, {100 * f['positives'] / f['rows']:.3f} % positives",
        reg=split("reg"),
        blobs=split("blobs"),
        pca=split("pca"),
        knn=f"{a['knn_x_train']['rows']:,} train × {a['knn_x_train']['cols']} / {a['knn_x_test']['rows']:,} queries",
        stream=f"{a['stream_x']['rows']:,} × {a['stream_x']['cols']}, 1 % injected anomalies "
               f"(first {meta['params']['stream_warmup']} points = warm-up)",
        lda=f"{rows('lda_x_train', 'lda_x_test'):,} docs × {a['lda_x_train']['cols']:,} terms "
            f"(train {a['lda_x_train']['rows']:,} / test {a['lda_x_test']['rows']:,})",
        sotu=f"{rows('sotu_x_train', 'sotu_x_test'):,} passages × {a['sotu_x_train']['cols']:,} terms "
             f"(train {a['sotu_x_train']['rows']:,} / test {a['sotu_x_test']['rows']:,})",
    )


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def quality_delta_pct(r, ref):
    """Signed quality difference in % of the reference: positive = better."""
    if ref["value"] == 0:
        return 0.0
    d = (r["value"] - ref["value"]) / abs(ref["value"]) * 100
    return d if r["higher_is_better"] else -d


def fmt_s(s):
    return f"{s:.3f}" if s < 10 else f"{s:.1f}"


def fmt_ratio(r):
    return f"{r:.2f}×" if r < 10 else f"{r:.0f}×"


def fmt_num(v):
    if v == 0:
        return "0"
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    if abs(v) >= 1:
        return f"{v:.4g}" if abs(v) < 100 else f"{v:.1f}"
    return f"{v:.4f}"


EXTRA_NAMES = dict(average_precision="AP", r2="R²", ari="ARI", explained_variance_ratio_sum="EVR",
                   topic_recovery="topic recovery")


def quality(r):
    s = f"{r['metric']} {fmt_num(r['value'])}"
    shown = []
    if "perplexity_min" in r["extra"]:
        s = f"{r['metric']} {fmt_num(r['value'])}"
        shown.append(f"mean over seeds, range {fmt_num(r['extra']['perplexity_min'])}–"
                     f"{fmt_num(r['extra']['perplexity_max'])}")
    shown += [f"{EXTRA_NAMES[k]} {fmt_num(v)}" for k, v in r["extra"].items() if k in EXTRA_NAMES]
    return s + (f" ({', '.join(shown)})" if shown else "")


def throughput(r):
    if r.get("throughput") is None:
        return ""
    return f"{r['throughput']:,.0f} {r['throughput_unit']}"


def pct(x):
    """A signed percentage with a real minus sign."""
    return f"{x:+.2f} %".replace("-", "−")


def verdict(r, rule, refs):
    """(text, met) for a flywheel-ml row against the task's target."""
    parts = []
    if rule == "gbt":
        lg = refs.get("LightGBM")
        if not lg:
            return "no LightGBM result", False
        ratio, dq = r["fit_s"] / lg["fit_s"], quality_delta_pct(r, lg)
        if ratio <= GBT_TARGET and dq >= -TOLERANCE_PCT:
            return f"**target met** ({fmt_ratio(ratio)} LightGBM's time, {r['metric']} {pct(dq)})", True
        if ratio > GBT_TARGET:
            parts.append(f"**slower by {fmt_ratio(ratio)}** than LightGBM (target ≤ {GBT_TARGET}×)")
        if dq < -TOLERANCE_PCT:
            parts.append(f"**quality {pct(dq)}** vs LightGBM ({r['metric']})")
        return "; ".join(parts), False
    anchor = refs.get(ANCHOR) or next((v for k, v in refs.items() if k.startswith(ANCHOR)), None)
    if not anchor:
        return "no scikit-learn result", False
    ratio, dq = r["fit_s"] / anchor["fit_s"], quality_delta_pct(r, anchor)
    if rule == "rcf":
        met = ratio <= 1 and dq >= -TOLERANCE_PCT
        return (f"no formal target (different algorithms: streaming RCF vs batch IsolationForest); "
                f"{1 / ratio:.2f}× IsolationForest's throughput, {r['metric']} {pct(dq)}"), met
    if ratio <= 1 and dq >= -TOLERANCE_PCT:
        return f"**target met** ({fmt_ratio(1 / ratio)} faster, {r['metric']} {pct(dq)})", True
    if ratio > 1:
        parts.append(f"**slower by {fmt_ratio(ratio)}**")
    if dq < -TOLERANCE_PCT:
        parts.append(f"**quality {pct(dq)}** ({r['metric']})")
    return "; ".join(parts), False


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: report.py DIR")
    d = sys.argv[1]
    meta = load(os.path.join(d, "meta.json"))
    rust = load(os.path.join(d, "rust.json"))
    py = load(os.path.join(d, "python.json"))
    deviation = ""
    if os.path.exists(os.path.join(d, "deviation.txt")):
        with open(os.path.join(d, "deviation.txt")) as f:
            deviation = f.read().strip()
    v = py["meta"]["versions"]
    wanted = {"scikit-learn": "1.9.", "xgboost": "3.4.", "lightgbm": "4.7."}
    off = [f"{k} {v[k]} (wanted {w}*)" for k, w in wanted.items() if not v[k].startswith(w)]
    if off and not deviation:
        deviation = "versions differ from the issue's: " + ", ".join(off)

    results = rust["results"] + py["results"]
    sh = shapes(meta)
    out = []
    p = out.append
    title = "# flywheel-ml benchmark"
    if meta.get("quick"):
        title += f" — QUICK MODE (sizes ÷ {meta['divisor']}; a smoke test, not numbers to publish)"
    p(title)
    p("")
    if deviation:
        p(f"> **⚠ DEVIATION: {deviation}**")
        p("")
    p(f"- Machine: {cpu_name()}, {py['meta']['cpu_count']} logical cores; {platform.system()} {platform.release()}")
    p(f"- flywheel-ml: {rust['meta']['library']} (release build; {rust['meta']['backends']}); "
      f"{rust['meta']['threads']} threads available — {rust['meta']['threading']}")
    p(f"- Python {py['meta']['python']}: scikit-learn {v['scikit-learn']}, XGBoost {v['xgboost']}, "
      f"LightGBM {v['lightgbm']}, numpy {v['numpy']} — {py['meta']['threading']}")
    p("- Same seeded data files for both sides, already in memory when the clock starts. Time = `fit` only unless "
      "the row says otherwise; N = timed runs (best kept): 3, or 1 when a run takes ≥ 10 s.")
    p(f"- Targets: faster than scikit-learn at equal quality (metric within {TOLERANCE_PCT:g} %); boosted trees "
      f"within {GBT_TARGET}× of LightGBM's time at equal AUC. Ratios are time ÷ the reference's time (< 1 = faster).")
    p("")
    p("| Task | Library | N | Time (s) | Throughput | Quality (test set) | × scikit-learn | × LightGBM | × XGBoost "
      "| Verdict |")
    p("|---|---|---:|---:|---:|---|---:|---:|---:|---|")
    losses, wins = [], []
    for task, template, rule in TASKS:
        rows = [r for r in results if r["task"] == task]
        name = template.format(**sh)
        fw = next((r for r in rows if r["library"] == FLYWHEEL), None)
        if not rows:
            p(f"| {name} | – | | | | | | | | not run (`--only`) |")
            continue
        if task == "lda_corpus" and fw is None:
            # The Rust side has no LDA result: flywheel-ml's `Lda` is not benchmarked (yet).
            p(f"| {name} | flywheel-ml | | | | | | | | **TODO — LDA: pending** |")
        refs = {r["library"]: r for r in rows if r["library"] != FLYWHEEL}
        anchor = refs.get(ANCHOR) or next((r for k, r in refs.items() if k.startswith(ANCHOR)), None)
        ordered = ([fw] if fw else []) + [r for r in rows if r is not fw]
        for i, r in enumerate(ordered):

            def ratio(ref):
                return fmt_ratio(r["fit_s"] / ref["fit_s"]) if ref else ""

            if r is fw:
                verdict_text, met = verdict(r, rule, refs)
                (wins if met else losses).append((name, verdict_text))
            elif r is anchor:
                verdict_text = "anchor"
            else:
                verdict_text = "reference"
            label = r["library"]
            p(f"| {name if i == 0 else ''} | {'**' + label + '**' if r is fw else label} | {r['runs']} "
              f"| {fmt_s(r['fit_s'])} | {throughput(r)} | {quality(r)} "
              f"| {ratio(anchor)} | {ratio(refs.get('LightGBM')) if rule == 'gbt' else ''} "
              f"| {ratio(refs.get('XGBoost')) if rule == 'gbt' else ''} | {verdict_text} |")
    p("")
    p(f"**Targets met: {len(wins)} of {len(wins) + len(losses)} flywheel-ml rows.**")
    p("")
    p("## Where flywheel-ml loses")
    p("")
    if losses:
        for name, text in losses:
            p(f"- {name}: {text.replace('**', '')}")
    else:
        p("- nowhere in this run.")
    p("")
    p("## Settings per row")
    p("")
    for task, template, _ in TASKS:
        for r in [r for r in results if r["task"] == task]:
            extra = {k: round(x, 5) for k, x in r["extra"].items()}
            p(f"- `{task}` {r['library']}: {r['settings']}; predict/score {fmt_s(r['predict_s'])} s"
              if r.get("predict_s") is not None else f"- `{task}` {r['library']}: {r['settings']}")
            if extra:
                p(f"  - other numbers: {extra}")
    p("")
    p("## Cross-check of flywheel-ml's metrics")
    p("")
    checks = py.get("crosscheck", [])
    bad = [c for c in checks if not c["ok"]]
    if not checks:
        p("- none (rust.json had no saved predictions)")
    elif not bad:
        p(f"- scikit-learn's metrics on flywheel-ml's saved test-set predictions agree with flywheel-ml's own "
          f"({len(checks)} numbers, to 1e-9; LDA: scikit-learn's perplexity of flywheel-ml's topics, to 1e-6).")
    else:
        for c in bad:
            p(f"- **MISMATCH** `{c['task']}` {c['metric']}: flywheel-ml {c['flywheel']!r}, "
              f"scikit-learn {c['sklearn']!r}")
    text = "\n".join(out) + "\n"
    with open(os.path.join(d, "report.md"), "w") as f:
        f.write(text)
    print(text)
    print(f"(written to {os.path.join(d, 'report.md')})", file=sys.stderr)


if __name__ == "__main__":
    main()
