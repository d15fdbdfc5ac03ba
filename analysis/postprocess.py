"""What a runner calls when a run has finished: summaries, report, headline.

    postprocess_run(out_dir)    # after run_emulation.py run / default
"""

from analysis.report import REPORT, write_report
from analysis.summary import SUMMARY_JSON, headline_text
from common.json_file import read_json_object


def postprocess_run(directory, echo=print):
    """Write DIR/summary.json, summary.csv and report.html; echo the headline
    table and the report's path; returns the report's path."""
    path = write_report(directory)
    summary = read_json_object(path.parent / SUMMARY_JSON) if path.name == REPORT else None
    if summary is not None and summary.get("kind") == "run":
        echo(headline_text(summary))
    echo(f"report: {path}")
    return path
