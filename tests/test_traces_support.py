"""Helpers shared by the traces tests (no tests here)."""

import json
import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(__file__).resolve().parents[2] / "shared" / "traces"
DEFAULT_WORKLOAD = REPO / "traces" / "default_workload.jsonl"
DEPLOYMENTS = REPO / "traces" / "deployments"
HOSTS_8 = {f"h{i}" for i in range(1, 9)}


def shared_trace(name):
    """Path of a real trace in ../shared/traces, or skip the test (under CI,
    where the traces are provided, a missing one fails it instead)."""
    path = SHARED / name
    if not path.exists():
        reason = f"real trace {path} not available (../shared/traces is absent)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return path


def run_cli(capsys, *argv):
    """Run ``run_emulation.py ARGV`` in-process; returns (exit code, stdout, stderr)."""
    import run_emulation
    before = os.environ.get("EMU_NO_REEXEC")
    os.environ["EMU_NO_REEXEC"] = "1"                # we already run in the project's venv
    try:
        code = run_emulation.main([str(a) for a in argv])
    finally:
        if before is None:
            del os.environ["EMU_NO_REEXEC"]
        else:
            os.environ["EMU_NO_REEXEC"] = before
    captured = capsys.readouterr()
    return code, captured.out, captured.err


HEADER = {"kind": "header", "format": "llm-comm-dag", "version": 1}


def small_dag():
    """Records of a valid two-request DAG on h1..h3 (header first)."""
    return [
        dict(HEADER),
        {"kind": "request", "id": "a", "arrival_us": 0, "input_tokens": 100, "output_tokens": 5,
         "ttft_slo_us": 500, "prefill_hosts": ["h1"], "decode_host": "h2", "terminal": "a.end"},
        {"kind": "request", "id": "b", "arrival_us": 10.5, "input_tokens": 50, "output_tokens": 1,
         "terminal": "b.kv"},
        {"kind": "compute", "id": "a.L0", "request_id": "a", "host": "h1", "duration_us": 20,
         "deps": [], "layer": 0},
        {"kind": "flow", "id": "a.kv", "request_id": "a", "src": "h1", "dst": "h2", "bytes": 4096,
         "stage": "p2d", "layer": 0, "protocol": "tcp", "deps": ["a.L0"]},
        {"kind": "compute", "id": "a.end", "request_id": "a", "host": "h2", "duration_us": 0,
         "deps": ["a.kv"]},
        {"kind": "flow", "id": "b.kv", "request_id": "b", "src": "h3", "dst": "h2", "bytes": 1000,
         "stage": "kv_fetch", "deps": []},
    ]


def write_lines(path, records):
    """Write records (dicts, or raw strings for broken lines) as JSON Lines."""
    with open(path, "w", encoding="utf-8") as handle:
        for record in records:
            handle.write((record if isinstance(record, str) else json.dumps(record)) + "\n")
    return path
