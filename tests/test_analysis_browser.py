"""The report opens in headless Chromium with no JavaScript error and every
figure rendered (a plotly div holding an svg.main-svg).

A copy of the report gets a small collector script at the top of <head>: it
records uncaught errors, unhandled promise rejections and console.error
calls, and on load writes what it saw into <pre id="analysis-check">, which
``--dump-dom`` then prints.  Skipped where Chromium is absent, except under
CI=true, where that fails.
"""

import html
import json
import re
import subprocess

import pytest

from analysis.report import write_report
from tests.test_analysis_report import SWEEP_FIGURES
from tests.test_analysis_support import chromium_binary, in_ci, synthetic_sweep

COLLECTOR = """<script>
window.__seen = [];
window.addEventListener('error', function (e) {
  window.__seen.push('error: ' + e.message + ' at ' + e.filename + ':' + e.lineno); });
window.addEventListener('unhandledrejection', function (e) {
  window.__seen.push('unhandled rejection: ' + e.reason); });
(function () { var original = console.error; console.error = function () {
  window.__seen.push('console.error: ' + Array.prototype.join.call(arguments, ' '));
  return original.apply(console, arguments); }; })();
window.addEventListener('load', function () { setTimeout(function () {
  var divs = Array.prototype.slice.call(document.querySelectorAll('div.plotly-graph-div'));
  var listed = document.getElementById('report-figures');
  var out = document.createElement('pre');
  out.id = 'analysis-check';
  out.textContent = JSON.stringify({
    errors: window.__seen,
    listed: listed ? JSON.parse(listed.textContent) : [],
    divs: divs.map(function (d) { return d.id; }),
    rendered: divs.filter(function (d) { return d.querySelector('svg.main-svg'); })
                  .map(function (d) { return d.id; })});
  document.body.appendChild(out); }, 500); });
</script>"""


def chromium():
    binary = chromium_binary()
    if binary is None:
        reason = "Chromium is not installed (apt-get install chromium; setup installs it)"
        if in_ci():
            pytest.fail(f"browser test cannot run in CI: {reason}")
        pytest.skip(reason)
    return binary


def open_in_chromium(binary, page, tmp_path):
    """Load ``page`` (HTML text) with the collector; returns what it collected."""
    path = tmp_path / "checked.html"
    path.write_text(page.replace("<head>", "<head>\n" + COLLECTOR, 1))
    command = [binary, "--headless", "--no-sandbox", "--disable-gpu",
               "--disable-background-networking", "--disable-component-update",
               "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
               f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=15000",
               "--dump-dom", path.as_uri()]
    done = subprocess.run(command, capture_output=True, text=True, timeout=180)
    match = re.search(r'<pre id="analysis-check">(.*?)</pre>', done.stdout, re.S)
    assert match, (f"the collector wrote nothing (exit {done.returncode}); "
                   f"stderr: {done.stderr[-2000:]}")
    return json.loads(html.unescape(match.group(1)))


def test_collector_catches_javascript_errors(tmp_path):
    """Without this, a silent collector would pass every report."""
    seen = open_in_chromium(chromium(), "<html><head></head><body><script>"
                            "undefinedFunction();</script><script>console.error('boom')"
                            "</script></body></html>", tmp_path)
    assert len(seen["errors"]) == 2
    assert "undefinedFunction" in seen["errors"][0] and "boom" in seen["errors"][1]


def test_sweep_report_renders_without_errors(tmp_path):
    binary = chromium()
    synthetic_sweep(tmp_path / "sweep", values=(0.5, 1.0, 2.0))
    page = write_report(tmp_path / "sweep").read_text()
    seen = open_in_chromium(binary, page, tmp_path)
    assert seen["errors"] == []
    assert seen["listed"] == SWEEP_FIGURES
    expected = [f"fig-{name}" for name in SWEEP_FIGURES]
    assert seen["divs"] == expected
    assert seen["rendered"] == expected


def test_static_export(tmp_path, capsys):
    chromium()
    pytest.importorskip("kaleido", reason="kaleido is not installed (pip install -e .)")
    from tests.test_analysis_support import run_cli, synthetic_run
    directory = synthetic_run(tmp_path / "run", schedulers=("sjf", "mfs"), requests=4)
    code, out, err = run_cli(capsys, "report", directory, "--images", tmp_path / "img")
    assert code == 0, err
    names = sorted(p.name for p in (tmp_path / "img").iterdir())
    assert names == sorted(f"{name}.svg" for name in
                           ("attainment", "ttft_cdf", "cct_cdf", "stage_fct", "links", "gantt"))
    assert (tmp_path / "img" / "gantt.svg").read_text().startswith("<svg")


def test_compare_exports_the_cross_validation_figure(tmp_path, capsys):
    chromium()
    pytest.importorskip("kaleido", reason="kaleido is not installed (pip install -e .)")
    from tests.test_analysis_support import run_cli, synthetic_run
    a = synthetic_run(tmp_path / "a", schedulers=("mfs",), requests=4)
    b = synthetic_run(tmp_path / "b", schedulers=("mfs",), requests=4, load=1.5)
    code, out, err = run_cli(capsys, "compare", a, b, "--out", tmp_path / "c.html",
                             "--images", tmp_path / "img", "--image-format", "png")
    assert code == 0, err
    names = sorted(p.name for p in (tmp_path / "img").iterdir())
    assert "crossval_fct_mfs.png" in names and "attainment.png" in names
    assert (tmp_path / "img" / "crossval_fct_mfs.png").read_bytes()[:4] == b"\x89PNG"
