"""Communication-DAG traces for LLM-serving flow-scheduling experiments.

The replay and the controller use::

    from traces import load_trace
    trace = load_trace("traces/default_workload.jsonl", hosts={"h1", ..., "h8"})
    trace.requests      # [Request]: arrival_us, ttft_slo_us, terminal, ...
    trace.nodes         # [ComputeNode | FlowNode], each with deps
    trace.nodes_df()    # the same as a pandas DataFrame

See ``traces/README.md`` for the format.  Names are imported lazily so that
``run_emulation.py`` (which imports :mod:`traces.cli`) starts quickly.
"""

import importlib

_EXPORTS = {
    "FORMAT_NAME": "traces.model", "FORMAT_VERSION": "traces.model", "STAGES": "traces.model",
    "PROTOCOLS": "traces.model", "Request": "traces.model", "ComputeNode": "traces.model",
    "FlowNode": "traces.model", "Trace": "traces.trace",
    "load_trace": "traces.storage", "write_trace": "traces.storage",
    "scale_rate": "traces.request_ops", "scale_trace_rate": "traces.request_ops",
    "time_window": "traces.request_ops", "subsample": "traces.request_ops",
    "isolated_times": "traces.isolated", "IsolatedTime": "traces.isolated",
    "trace_stats": "traces.stats", "topological_order": "traces.graph_checks",
    "synthesize": "traces.synth.synthesizer", "load_model": "traces.synth.models",
    "load_deployment": "traces.synth.deployment",
    "generate_requests": "traces.synth.request_generator",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'traces' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
