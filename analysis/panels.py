"""HTML tables of the report: summary metrics, fidelity, configuration and
the sweep's headline numbers.  Values are shown as summary.json holds them
(microseconds, fractions) to 4 significant digits."""

import json

from analysis.html_page import esc
from analysis.styles import display_name
from analysis.summary import format_number


def table(header, rows, first_is_label=True):
    head = "".join(f"<th>{esc(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>"
                   for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def metrics_table(summary):
    """Metrics as rows, schedulers as columns (names as in summary.json)."""
    names = list(summary["schedulers"])
    keys = []
    for metrics in summary["schedulers"].values():
        keys += [k for k in metrics if k not in keys]
    rows = [[key] + [format_number(summary["schedulers"][n].get(key)) for n in names]
            for key in keys]
    return table(["metric"] + [display_name(n) for n in names], rows)


CAPTURE_ROWS = (("collectives compared", "capture_collectives_compared"),
                ("CCT ratio p50 (replayed / captured)", "capture_cct_ratio_p50"),
                ("CCT shape error p50", "capture_cct_shape_error_p50"),
                ("CCT shape error p90", "capture_cct_shape_error_p90"),
                ("flows compared", "capture_flows_compared"),
                ("FCT ratio p50 (replayed / captured)", "capture_fct_ratio_p50"),
                ("FCT shape error p50", "capture_fct_shape_error_p50"),
                ("FCT shape error p90", "capture_fct_shape_error_p90"),
                ("requests compared (measured TTFT)", "capture_requests_compared"),
                ("TTFT ratio p50 (replayed / measured)", "capture_ttft_ratio_p50"),
                ("TTFT shape error p50", "capture_ttft_shape_error_p50"),
                ("TTFT shape error p90", "capture_ttft_shape_error_p90"))


def capture_table(summary):
    """The replay-against-capture metrics, schedulers as columns."""
    names = list(summary["schedulers"])
    rows = [[label] + [format_number(summary["schedulers"][n].get(key)) for n in names]
            for label, key in CAPTURE_ROWS]
    return table(["replay against capture"] + [display_name(n) for n in names], rows)


def flatten(value, prefix=""):
    """{dotted key: leaf} of nested dicts; lists stay whole."""
    if isinstance(value, dict) and value:
        out = {}
        for key, item in value.items():
            out.update(flatten(item, f"{prefix}.{key}" if prefix else str(key)))
        return out
    return {prefix: value}


def _leaf(value):
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return format_number(value)
    if isinstance(value, str):
        return value
    return json.dumps(value)


def fidelity_table(run):
    """Every key of every scheduler's fidelity.json, nested keys dotted."""
    flat = {name: flatten(results.fidelity) for name, results in run.schedulers.items()}
    keys = []
    for values in flat.values():
        keys += [k for k in values if k not in keys]
    if not keys:
        return '<p class="note">fidelity.json is empty for every scheduler.</p>'
    rows = [[key] + [_leaf(flat[n][key]) if key in flat[n] else "" for n in flat]
            for key in keys]
    return table(["key"] + [display_name(n) for n in flat], rows)


def json_block(value):
    return f"<pre>{esc(json.dumps(value, indent=2, sort_keys=False))}</pre>"


def sweep_attainment_table(summary):
    names = summary["schedulers"]
    rows = [[f"{v:g}"] + [format_number(summary["slo_attainment"][n][i], 3) for n in names]
            for i, v in enumerate(summary["values"])]
    return table([summary["parameter"]] + [display_name(n) for n in names], rows)


def sustainable_table(summary, info):
    ratios = summary.get("sustainable_ratio") or {}
    att = summary.get("attainment_ratio") or {}
    ref = display_name(summary["reference"]) if summary.get("reference") else "reference"
    rows = []
    for name in summary["schedulers"]:
        threshold = summary["sustainable"][name]
        ratio = ratios.get(name)
        span = att.get(name)
        rows.append([display_name(name), format_number(threshold["value"]), threshold["bound"],
                     "" if ratio is None else f"{format_number(ratio['ratio'], 3)} "
                                              f"({ratio['kind']})",
                     "" if span is None else f"{format_number(span['min'], 3)} - "
                                             f"{format_number(span['max'], 3)}"])
    return table(["scheduler", info.threshold, "bound", f"{ref} / this: sustainable",
                  f"{ref} / this: attainment (min - max)"], rows)
