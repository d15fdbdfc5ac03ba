"""Analysis of results directories (RESULTS_FORMAT.md): metrics, sweeps, reports.

The runner's entry points (imported lazily, so ``import analysis`` stays
cheap for the CLI parser):

    run_sweep(parameter, values, run_point, sweep_dir, schedulers)  # analysis.sweep
    parse_values("0.5,1,1.5")                                       # analysis.sweep
    summarize(directory) -> summary.json object                    # results or sweep dir
    write_report(directory, out=None, request_id=None, point=None)  # analysis.report
    write_compare(dir_a, dir_b, out=None) -> (path, text)           # analysis.compare
"""

import importlib

_EXPORTS = {
    "run_sweep": "analysis.sweep", "parse_values": "analysis.sweep",
    "PARAMETERS": "analysis.sweep", "write_report": "analysis.report",
    "write_compare": "analysis.compare", "summarize": "analysis.summarize_dir",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'analysis' has no attribute {name!r}")
