"""Summarise a results directory or a sweep directory, whichever it is."""

from analysis.results_dir import RunResults, is_sweep_dir
from analysis.summary import write_run_summary


def summarize(directory):
    """Write the summaries of ``directory``; returns its summary.json object
    (for a sweep, the sweep's; every point's are written too)."""
    if is_sweep_dir(directory):
        from analysis.sweep import load_sweep, write_sweep_summary
        return write_sweep_summary(load_sweep(directory))[0]
    return write_run_summary(RunResults(directory))
