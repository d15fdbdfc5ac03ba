"""Repeated trials: mean and 95 % confidence interval over seeds.

``run --seeds N`` writes one results directory per seed (``seed-K/``) and,
at the top, ``seeds.json``: per scheduler and metric the per-seed values,
their mean and the half-width of the two-sided 95 % Student-t interval;
per baseline the reference's attainment ratio over seeds, called a
significant difference only when its interval excludes 1.
"""

import math

from common.safe_files import write_text_atomic
from analysis.results_dir import RunResults
from analysis.summary import dump_json, format_number, summarize_run

SEEDS_JSON, SEEDS_HTML = "seeds.json", "seeds.html"
METRICS = ("slo_attainment", "slo_attainment_feasible", "ttft_p50_us", "ttft_p99_us")
# Two-sided 95 % Student-t quantiles by degrees of freedom (1..30); 1.96 beyond.
_T95 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179,
        2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064,
        2.060, 2.056, 2.052, 2.048, 2.045, 2.042)


def t95(df):
    """Two-sided 95 % Student-t quantile for ``df`` degrees of freedom (floored)."""
    df = int(df)
    return _T95[df - 1] if 1 <= df <= len(_T95) else 1.96 if df > len(_T95) else None


def interval(values):
    """{"values", "mean", "ci95"} over the values that are not None (ci95:
    the half-width; None with fewer than two values)."""
    known = [v for v in values if v is not None]
    if not known:
        return {"values": list(values), "mean": None, "ci95": None}
    m = sum(known) / len(known)
    if len(known) < 2:
        return {"values": list(values), "mean": m, "ci95": None}
    sd = math.sqrt(sum((v - m) ** 2 for v in known) / (len(known) - 1))
    t = _T95[len(known) - 2] if len(known) - 1 <= len(_T95) else 1.96
    return {"values": list(values), "mean": m, "ci95": t * sd / math.sqrt(len(known))}


def summarize_seeds(directories, seeds, reference):
    """seeds.json's object for the per-seed results ``directories``."""
    summaries = [summarize_run(RunResults(d), reference) for d in directories]
    names = list(summaries[0]["schedulers"])
    schedulers = {name: {key: interval([s["schedulers"][name].get(key) for s in summaries])
                         for key in METRICS} for name in names}
    ratios, differences = {}, {}
    if reference in names:
        for name in names:
            if name == reference:
                continue
            pairs = [tuple(s["schedulers"][n]["slo_attainment"] for n in (reference, name))
                     for s in summaries]
            # A seed where the baseline meets no deadline has no ratio: it is
            # left out of the ratio (and counted), never of the difference.
            ratios[name] = paired(
                [None if not theirs or ours is None else ours / theirs for ours, theirs in pairs], 1)
            ratios[name]["left_out"] = sum(v is None for v in ratios[name]["values"])
            differences[name] = paired(
                [None if None in (ours, theirs) else ours - theirs for ours, theirs in pairs], 0)
    return {"kind": "seeds", "seeds": list(seeds), "directories": [str(d) for d in directories],
            "reference": reference, "schedulers": schedulers, "attainment_ratio": ratios,
            "attainment_difference": differences}


def paired(values, null):
    """interval() of per-seed paired values, "significant" when the 95 %
    interval excludes ``null`` (1 for a ratio, 0 for a difference)."""
    stats = interval(values)
    stats["significant"] = stats["ci95"] is not None and not (
        stats["mean"] - stats["ci95"] <= null <= stats["mean"] + stats["ci95"])
    return stats


def write_seeds_summary(out, directories, seeds, reference, page=True):
    """seeds.json and (``page``) seeds.html: the per-scheduler means with
    their 95 % intervals as error bars, and the terminal table."""
    result = summarize_seeds(directories, seeds, reference)
    write_text_atomic(f"{out}/{SEEDS_JSON}", dump_json(result))
    if page:
        from analysis.html_page import Page, esc
        html = Page(f"Repeated trials: {len(result['seeds'])} seeds")
        html.section("seeds", "Mean and 95% interval over seeds",
                     "Each seed is one results directory (seed-K/); a ratio whose "
                     "interval holds 1 is no significant difference.")
        for metric, title in (("slo_attainment", "TTFT SLO attainment"),
                              ("ttft_p50_us", "TTFT p50 (us)"), ("ttft_p99_us", "TTFT p99 (us)")):
            html.add_figure(seeds_bars(result, metric, title), f"seeds_{metric}")
        html.add_html(f"<pre>{esc(seeds_text(result))}</pre>")
        write_text_atomic(f"{out}/{SEEDS_HTML}", html.render())
    return result


def seeds_bars(result, metric, title):
    """One bar per scheduler: the mean over seeds, the 95 % interval as error bar."""
    import plotly.graph_objects as go

    from analysis.figures_common import layout
    from analysis.styles import scheduler_style

    names = list(result["schedulers"])
    stats = [result["schedulers"][n][metric] for n in names]
    fig = go.Figure(go.Bar(
        x=[scheduler_style(n).display for n in names], y=[s["mean"] for s in stats],
        marker_color=[scheduler_style(n).colour for n in names],
        error_y={"type": "data", "visible": True, "array": [s["ci95"] for s in stats]}))
    layout(fig, f"{title}: mean over {len(result['seeds'])} seeds, 95% interval", yaxis=title)
    return fig


def seeds_text(result):
    """The terminal table: mean +- 95 % CI per scheduler, then the ratios."""
    def cell(stats, digits=3):
        if stats["mean"] is None:
            return "-"
        text = format_number(stats["mean"], digits)
        return text if stats["ci95"] is None else f"{text} +- {format_number(stats['ci95'], 2)}"

    rows = [["scheduler", "SLO att.", "att. feasible", "TTFT p50 us", "TTFT p99 us"]]
    for name, metrics in result["schedulers"].items():
        rows.append([name] + [cell(metrics[key]) for key in METRICS])
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths)))
             for r in rows]
    n = len(result["seeds"])
    lines.insert(0, f"{n} trials (seeds + {', '.join(map(str, result['seeds']))}): mean +- 95% CI")
    if result["attainment_ratio"]:
        parts = []
        for name, stats in result["attainment_ratio"].items():
            if stats["mean"] is None:
                parts.append(f"{name} -")
                continue
            verdict = "" if stats["significant"] else " (no significant difference)"
            if stats.get("left_out"):
                verdict += f" ({stats['left_out']} of {n} seeds left out: {name} met no SLO)"
            parts.append(f"{name} {cell(stats)}x{verdict}")
        lines.append(f"{result['reference']} SLO attainment / baseline: " + ", ".join(parts))
    if result.get("attainment_difference"):
        parts = [f"{name} {cell(stats)}" + ("" if stats["significant"] else " (n.s.)")
                 for name, stats in result["attainment_difference"].items()]
        lines.append(f"{result['reference']} SLO attainment - baseline: " + ", ".join(parts))
    return "\n".join(lines)
