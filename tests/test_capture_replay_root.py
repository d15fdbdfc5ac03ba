"""Root integration: traces made by the real capture tools import, validate
and replay on the emulated fabric, and the report compares the replay with
the capture's own timings (tests/fixtures/*/README.md say how each was made)."""

import json
from pathlib import Path

import pytest

from tests.helpers import run_cli
from tests.test_traces_vllm_bench import RESULT
from traces import load_trace

pytestmark = pytest.mark.root

FIXTURES = Path(__file__).parent / "fixtures"
CAPTURES = {
    "pcap-tcpdump": ("pcap", FIXTURES / "pcap/two_hosts.pcap",
                     "--host-map", "10.99.0.1=h1,10.99.0.2=h2"),
    "chakra-gloo": ("chakra", FIXTURES / "chakra/pytorch_gloo_w4/gloo_w4"),
    "chakra-gloo-unlinked": ("chakra", FIXTURES / "chakra/pytorch_gloo_w2_hostonly/gloo_w2_host"),
    "chakra-text": ("chakra", FIXTURES / "chakra/text_dp_n4/dp_2layer"),
    "chakra-generator": ("chakra", FIXTURES / "chakra/generator_n4/ALL_TO_ALL"),
    "nccl-profiler-v6": ("nccl-profiler", FIXTURES / "nccl_profiler/v2.30.7_api-v6_mask4031"),
    "nccl-profiler-v6-kernelch": ("nccl-profiler",
                                  FIXTURES / "nccl_profiler/v2.30.7_api-v6_mask4095"),
    "nccl-profiler-v4": ("nccl-profiler", FIXTURES / "nccl_profiler/v2.27.7_api-v4_mask255"),
    "nccl-profiler-v1": ("nccl-profiler", FIXTURES / "nccl_profiler/v2.23.4_api-v1_mask63"),
}


def replay(trace_path, out):
    result = run_cli("run", "--trace", trace_path, "--scheduler", "fair", "--out", out,
                     timeout=300)
    assert result.returncode == 0, result.stderr
    return result, json.loads((out / "summary.json").read_text())["schedulers"]["fair"]


@pytest.mark.parametrize("name", CAPTURES)
def test_captured_trace_replays_and_is_compared_with_its_capture(root_env, tmp_path, name):
    fmt, source, *options = CAPTURES[name]
    trace_path = tmp_path / "job.jsonl"
    imported = run_cli("trace", "import", fmt, source, *options, "--capture-rate", "10Gbps",
                       "--out", trace_path)
    assert imported.returncode == 0, imported.stderr
    assert run_cli("trace", "validate", trace_path, "--topology", "single_tor_8").returncode == 0
    trace = load_trace(trace_path)
    flows = trace.flows()
    recorded = {n.label for n in flows if n.stage == "collective" and n.recorded_cct_us}
    result, m = replay(trace_path, tmp_path / "run")
    # every captured transfer crossed the fabric and the job finished
    assert (m["flows"], m["flows_completed"], m["flows_failed"]) == (len(flows), len(flows), 0)
    assert m["requests_finished"] == 1
    assert m["capture_flows_compared"] == sum(1 for f in flows if f.recorded_fct_us)
    # a captured job has no SLO: no attainment, shown as "-"
    assert m["slo_attainment"] is None and m["requests_with_slo"] == 0
    (row,) = [line for line in result.stdout.splitlines() if line.startswith("fair ")]
    assert row.split()[1] == "-"
    assert m["capture_collectives_compared"] == len(recorded)
    report = (tmp_path / "run" / "report.html").read_text()
    assert ("Replay against the capture" in report) == bool(recorded or m["capture_flows_compared"])
    if recorded:
        assert m["capture_cct_ratio_p50"] > 0 and m["capture_cct_shape_error_p90"] is not None


def test_vllm_bench_requests_replay_with_their_measured_ttft(root_env, tmp_path):
    results = tmp_path / "bench.json"
    results.write_text(json.dumps(RESULT))
    requests, dag = tmp_path / "requests.jsonl", tmp_path / "dag.jsonl"
    # arrivals 1.41 s apart would take minutes at the dilation: 100x the rate
    assert run_cli("trace", "import", "vllm-bench", results, "--rate-scale", "100",
                   "--out", requests).returncode == 0
    made = run_cli("trace", "synth", "--requests", requests, "--model", "mixtral-8x7b",
                   "--layers", "2", "--deployment", "traces/deployments/single_tor_8.yaml",
                   "--out", dag)
    assert made.returncode == 0, made.stderr
    _, m = replay(dag, tmp_path / "run")
    assert m["capture_requests_compared"] == 3 and m["capture_ttft_ratio_p50"] > 0
    assert "TTFT ratio p50 (replayed / measured)" in (tmp_path / "run" / "report.html").read_text()
