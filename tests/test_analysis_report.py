"""report.html and compare: one self-contained file with every figure."""

import json
import re

import pandas as pd
import pytest

from common.errors import UserError
from analysis.figures_gantt import _segments, choose_request
from analysis.report import write_report
from analysis.results_dir import RunResults
from analysis.styles import load_registry, scheduler_style
from tests.test_analysis_support import (flow, request, run_cli, synthetic_run, synthetic_sweep,
                                         write_run)

RUN_FIGURES = ["attainment", "ttft_cdf", "cct_cdf", "stage_fct", "links", "gantt"]
SWEEP_FIGURES = ["sweep_attainment", "sweep_ttft_p99"] + RUN_FIGURES


def figures_of(page):
    listed = json.loads(re.search(r'<script type="application/json" id="report-figures">'
                                  r'(.*?)</script>', page).group(1))
    divs = re.findall(r'<div id="fig-([a-z_0-9]+)" class="plotly-graph-div"', page)
    assert divs == listed
    return listed


def assert_self_contained(page):
    assert not re.search(r"<script[^>]*\ssrc\s*=", page, re.I), "external script"
    assert not re.search(r"<link[^>]*href\s*=\s*[\"']?(https?:)?//", page, re.I)
    assert page.count("Plotly.newPlot(") == len(figures_of(page))
    # plotly.js inlined exactly once
    assert len(re.findall(r"\* plotly\.js v\d", page)) == 1


@pytest.fixture(scope="module")
def sweep_report(tmp_path_factory):
    directory = tmp_path_factory.mktemp("sweep")
    synthetic_sweep(directory, values=(0.5, 1.0, 2.0))
    return directory, write_report(directory)


def test_run_report_has_every_figure(tmp_path):
    directory = synthetic_run(tmp_path / "run")
    path = write_report(directory)
    assert path == directory / "report.html"
    page = path.read_text()
    assert figures_of(page) == RUN_FIGURES
    assert_self_contained(page)
    assert (directory / "summary.json").is_file()
    for section in ("Fidelity", "Configuration", "start_lag_p99_us", "link_utilization.s1-&gt;h7",
                    "switch_cpu", "unmodelled_drops", "notes"):
        assert section in page
    assert "Request r" in page


def test_sweep_report_has_every_figure(sweep_report):
    directory, path = sweep_report
    page = path.read_text()
    assert figures_of(page) == SWEEP_FIGURES
    assert_self_contained(page)
    summary = json.loads((directory / "summary.json").read_text())
    assert "highest sustainable rate at &gt;= 0.9 attainment" in page
    mfs = summary["sustainable"]["mfs"]["value"]
    assert f"MFS {mfs:.3g}" in page


def test_report_numbers_are_summary_numbers(sweep_report):
    """The attainment curve plots exactly summary.json's attainment."""
    directory, path = sweep_report
    page = path.read_text()
    summary = json.loads((directory / "summary.json").read_text())
    start = page.index('Plotly.newPlot(                        "fig-sweep_attainment"')
    data = json.loads(re.search(r"\s*(\[.*?\]),\s*\{", page[start + 60:]).group(1))
    plotted = {trace["name"]: trace["y"] for trace in data if trace.get("mode") ==
               "lines+markers"}
    for name, attainment in summary["slo_attainment"].items():
        assert plotted[scheduler_style(name).display] == attainment


def test_report_of_empty_tables_still_has_every_figure(tmp_path):
    directory = write_run(tmp_path / "run", {"mfs": {}, "sjf": {}})
    page = write_report(directory).read_text()
    assert figures_of(page) == RUN_FIGURES
    assert page.count("no completed flows") == 1 and "no samples in links.csv" in page


def test_names_from_csv_cannot_break_out_of_the_page(tmp_path):
    evil = "</script><script>alert(1)</script>"
    directory = write_run(tmp_path / "run", {"mfs": {
        "requests": [request(request_id=evil)],
        "flows": [flow(flow_id=evil, request_id=evil)],
        "fidelity": {evil: evil}}})
    page = write_report(directory).read_text()
    assert evil not in page
    assert figures_of(page) == RUN_FIGURES


def test_unknown_request_and_point(sweep_report, tmp_path):
    directory, _ = sweep_report
    with pytest.raises(UserError, match="not a point"):
        write_report(directory, tmp_path / "r.html", point=7)
    with pytest.raises(UserError, match="no flow of request 'nope'"):
        write_report(directory, tmp_path / "r.html", request_id="nope")
    page = write_report(directory, tmp_path / "r.html", point=2, request_id="r3").read_text()
    assert "at rate=2" in page and "Request r3." in page


def test_gantt_segments_follow_queue_changes():
    row = next(pd.DataFrame([{"start_us": 0.0, "end_us": 100.0, "queue_initial": 3}])
               .itertuples())
    changes = pd.DataFrame({"time_us": [0.0, 40.0, 70.0, 150.0], "new_queue": [3, 2, 1, 0],
                            "reason": ["initial", "promotion", "promotion", "demotion"]})
    assert _segments(row, changes) == [(0, 40, 3), (40, 70, 2), (70, 100, 1)]


def test_gantt_default_request_has_the_most_promotions(tmp_path):
    directory = write_run(tmp_path / "run", {"mfs": {
        "flows": [flow(flow_id="a", request_id="r0"), flow(flow_id="b", request_id="r1"),
                  flow(flow_id="c", request_id="r0")],
        "queue_changes": [{"time_us": 1, "flow_id": "b", "request_id": "r1", "old_queue": 2,
                           "new_queue": 1, "reason": "promotion"}]}})
    assert choose_request(RunResults(directory)) == "r1"


def test_compare_runs_and_sweeps(tmp_path, sweep_report, capsys):
    a = synthetic_run(tmp_path / "a", load=1.0)
    b = synthetic_run(tmp_path / "b", load=1.5)
    code, out, err = run_cli(capsys, "compare", a, b, "--out", tmp_path / "c.html")
    assert code == 0, err
    assert "MFS" in out and "B / A" in out and out.endswith(f"wrote {tmp_path / 'c.html'}\n")
    page = (tmp_path / "c.html").read_text()
    # Both synthetic runs carry the same flow ids, so the flow-by-flow section follows.
    names = figures_of(page)
    assert names[:4] == ["attainment", "ttft_cdf", "cct_cdf", "stage_fct"]
    assert names[4:] and all(n.startswith("crossval_fct_") for n in names[4:])
    assert_self_contained(page)
    assert "Configuration differences" in page
    sweep_dir, _ = sweep_report
    code, out, _ = run_cli(capsys, "compare", sweep_dir, sweep_dir, "--out", tmp_path / "s.html")
    assert code == 0 and figures_of((tmp_path / "s.html").read_text()) == ["sweep_attainment"]
    code, _, err = run_cli(capsys, "compare", a, sweep_dir, "--out", tmp_path / "x.html")
    assert code == 2 and "not one of each" in err and not (tmp_path / "x.html").exists()


def test_report_cli(tmp_path, capsys):
    directory = synthetic_run(tmp_path / "run", schedulers=("sjf", "mfs"))
    code, out, _ = run_cli(capsys, "report", directory, "--out", tmp_path / "r.html")
    assert code == 0 and out == f"wrote {tmp_path / 'r.html'}\n"
    code, out, _ = run_cli(capsys, "summarize", directory)
    assert code == 0 and out.splitlines()[0].split()[:2] == ["scheduler", "SLO"]
    assert "MFS SLO attainment / baseline: sjf" in out


def test_scheduler_styles(tmp_path):
    styles, _, _ = load_registry()
    assert set(styles) == {"fair", "sjf", "edf", "pias", "karuna", "mfs"}
    assert len({s.colour for s in styles.values()}) == 6
    assert scheduler_style("mfs").display == "MFS"
    unknown = scheduler_style("my_policy")
    assert unknown.display == "my_policy" and unknown == scheduler_style("my_policy")
    bad = tmp_path / "bad.yaml"
    bad.write_text("schedulers:\n  mfs: {display: MFS, colour: red, marker: star}\n")
    with pytest.raises(UserError, match="colour must be"):
        load_registry(bad)
    bad.write_text("schedulers:\n  mfs: {display: MFS, colour: '#ff0000', marker: blob}\n")
    with pytest.raises(UserError, match="not a plotly marker"):
        load_registry(bad)
    bad.write_text("schedulers: [\n")
    with pytest.raises(UserError, match="malformed YAML"):
        load_registry(bad)


def test_missing_link_samples_are_drawn_idle():
    from analysis.figures_links import with_idle_gaps
    x, y = with_idle_gaps([0, 10, 20, 60, 70], [5, 5, 5, 7, 7], interval=10)
    assert list(x) == [0, 10, 20, 30, 50, 60, 70]
    assert list(y) == [5, 5, 5, 0, 0, 7, 7]
