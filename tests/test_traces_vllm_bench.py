"""`vllm bench serve --save-result --save-detailed` results as a request
trace whose measured TTFTs reach the results for comparison."""

import json

import pytest

import traces
from tests.test_traces_support import run_cli

# The keys vLLM writes (vllm/benchmarks/serve.py); request 2 failed.
RESULT = {
    "date": "20261204-090000", "backend": "openai", "model_id": "Qwen/Qwen3-0.6B",
    "num_prompts": 4, "request_rate": 2.0, "burstiness": 1.0, "duration": 1.6,
    "completed": 3, "failed": 1,
    "input_lens": [128, 512, 64, 256], "output_lens": [3, 4, 0, 5],
    "ttfts": [0.051, 0.093, 0.0, 0.060],
    "itls": [[0.011, 0.010], [0.011], [], [0.010]],
    "latencies": [0.07, 0.12, 0.0, 0.09],
    "start_times": [81234.50, 81235.01, 81235.30, 81235.91],
    "queue_times": [0.0, 0.01, 0.0, 0.0],
    "generated_texts": [" a", " b", "", " c"], "errors": ["", "", "timeout", ""],
    "mean_ttft_ms": 68.0,
}


def write(path, result):
    path.write_text(json.dumps(result))
    return path


def test_import_keeps_arrivals_lengths_and_measured_ttft(tmp_path, capsys):
    out = tmp_path / "vllm.jsonl"
    code, stdout, err = run_cli(capsys, "trace", "import", "vllm-bench",
                                write(tmp_path / "r.json", RESULT), "--out", out)
    assert code == 0, err
    assert "failed requests skipped (errors): 1" in stdout
    requests = traces.load_trace(out, validate=True).requests
    # arrival = start_time - queue_time, from the first: 0, 0.50 s, 1.41 s
    assert [r.arrival_us for r in requests] == pytest.approx([0, 500000, 1410000])
    assert [r.input_tokens for r in requests] == [128, 512, 256]
    assert [r.recorded_ttft_us for r in requests] == pytest.approx([51000, 93000, 60000])


def test_measured_ttft_survives_synthesis(tmp_path, capsys):
    requests = write(tmp_path / "r.json", RESULT)
    imported, dag = tmp_path / "req.jsonl", tmp_path / "dag.jsonl"
    assert run_cli(capsys, "trace", "import", "vllm-bench", requests, "--out", imported)[0] == 0
    code, _, err = run_cli(capsys, "trace", "synth", "--requests", imported, "--model",
                           "mixtral-8x7b", "--layers", "2", "--deployment",
                           "traces/deployments/single_tor_8.yaml", "--out", dag)
    assert code == 0, err
    assert [r.recorded_ttft_us for r in traces.load_trace(dag).requests] == \
        pytest.approx([51000, 93000, 60000])


def test_without_start_times_arrivals_follow_the_rate(tmp_path, capsys):
    result = {k: v for k, v in RESULT.items() if k not in ("start_times", "queue_times")}
    out = tmp_path / "o.jsonl"
    code, stdout, _ = run_cli(capsys, "trace", "import", "vllm-bench",
                              write(tmp_path / "r.json", result), "--out", out)
    assert code == 0 and "arrivals spread evenly at request_rate (no start_times): 4" in stdout
    assert [r.arrival_us for r in traces.load_trace(out).requests] == [0, 500000, 1500000]


@pytest.mark.parametrize("change, message", [
    (lambda r: r.pop("ttfts"), "no per-request ttfts: save the run with"),
    (lambda r: r.update(ttfts=[0.1]), "ttfts: expected a list of 4 values"),
    (lambda r: r.update(input_lens=[1, -2, 3, 4]), "request 1: input_lens must be a whole number"),
    (lambda r: (r.pop("start_times"), r.update(request_rate="inf")), "no start_times and no finite"),
])
def test_bad_results_are_one_line_errors(tmp_path, capsys, change, message):
    result = json.loads(json.dumps(RESULT))
    change(result)
    out = tmp_path / "o.jsonl"
    code, _, err = run_cli(capsys, "trace", "import", "vllm-bench",
                           write(tmp_path / "r.json", result), "--out", out)
    assert code == 2 and message in err and "r.json" in err and "Traceback" not in err
    assert not out.exists()


def test_appended_runs_are_refused(tmp_path, capsys):
    path = tmp_path / "r.json"
    path.write_text(json.dumps(RESULT) + "\n" + json.dumps(RESULT) + "\n")
    code, _, err = run_cli(capsys, "trace", "import", "vllm-bench", path,
                           "--out", tmp_path / "o.jsonl")
    assert code == 2 and "--append-result" in err
