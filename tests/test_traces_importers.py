"""Request-trace importers, on the real traces in ../shared/traces and on samples."""

import json

import numpy as np
import pytest

import traces
from common.errors import UserError
from tests.test_traces_support import run_cli, shared_trace
from traces.importers.azure import read_azure
from traces.importers.burstgpt import read_burstgpt
from traces.importers.mooncake import read_mooncake
from traces.importers.vidur import read_vidur
from traces.request_ops import RequestOptions, subsample, time_window


# -- real traces --------------------------------------------------------------------
def test_real_mooncake_trace():
    requests = read_mooncake(shared_trace("mooncake_synthetic_trace.jsonl"))
    assert len(requests) == 3993
    first = requests[0]
    assert (first.arrival_us, first.input_tokens, first.output_tokens) == (0.0, 40160, 6)
    assert first.hash_ids[:3] == [0, 1, 2] and len(first.hash_ids) == 79   # ceil(40160 / 512)
    assert requests[-1].arrival_us == pytest.approx(1022.0e6, rel=0.01)
    seen, reused = set(), 0
    for req in requests:
        reused += bool(req.hash_ids and req.hash_ids[0] in seen)
        seen.update(req.hash_ids)
    assert reused > 100                       # the trace does share prefixes


def test_real_mooncake_jitter_stays_in_bucket():
    path = shared_trace("mooncake_synthetic_trace.jsonl")
    plain = read_mooncake(path)
    jittered = read_mooncake(path, jitter_us="auto", seed=5)
    again = read_mooncake(path, jitter_us="auto", seed=5)
    times = np.array([r.arrival_us for r in plain])
    width = np.diff(np.unique(times)).min()
    moved = np.array([r.arrival_us for r in jittered]) - times
    assert (moved >= 0).all() and (moved < width).all() and moved.max() > 0
    assert [r.arrival_us for r in again] == [r.arrival_us for r in jittered]


def test_real_azure_2023_trace():
    requests = read_azure(shared_trace("azure_llm_2023_code.csv"))
    assert len(requests) == 8819
    assert (requests[0].input_tokens, requests[0].output_tokens) == (4808, 10)
    assert requests[0].arrival_us == 0.0
    assert requests[1].arrival_us == pytest.approx(52000.0)       # 04.0319600 - 03.9799600
    assert requests[-1].arrival_us / 1e6 == pytest.approx(3436, abs=5)


def test_real_azure_cli_with_window_scale_and_sample(tmp_path, capsys):
    path = shared_trace("azure_llm_2023_code.csv")
    out = tmp_path / "azure.parquet"
    code, stdout, err = run_cli(capsys, "trace", "import", "azure", path, "--out", out,
                                "--window", "100s:400s", "--rate-scale", "3", "--sample", "0.5",
                                "--seed", "7")
    assert code == 0, err
    trace = traces.load_trace(out)
    full = read_azure(path)
    in_window = [r for r in full if 100e6 <= r.arrival_us < 400e6]
    assert 0.4 * len(in_window) < len(trace.requests) < 0.6 * len(in_window)
    arrivals = [r.arrival_us for r in trace.requests]
    assert arrivals[0] == 0 and arrivals == sorted(arrivals)
    assert arrivals[-1] <= 300e6 / 3
    assert f"wrote {out}: {len(trace.requests)} requests" in stdout
    assert "--rate-scale 3.0" in trace.source


# -- samples written here -------------------------------------------------------------
def test_azure_2024_iso_timestamps(tmp_path):
    path = tmp_path / "azure2024.csv"
    path.write_text("TIMESTAMP,ContextTokens,GeneratedTokens\n"
                    "2024-05-10 00:00:00.009930+00:00,2162,5\n"
                    "2024-05-10 00:00:00.309930+00:00,3000,11\n"
                    "\n"
                    "2024-05-10 00:00:01.009930+00:00,17,90\n")
    requests = read_azure(path)
    assert [r.arrival_us for r in requests] == pytest.approx([0, 300000, 1000000])
    assert [r.input_tokens for r in requests] == [2162, 3000, 17]


def test_burstgpt_skips_failed_rows(tmp_path, capsys):
    path = tmp_path / "burst.csv"
    path.write_text("Timestamp,Model,Request tokens,Response tokens,Total tokens,Log Type\n"
                    "5,ChatGPT,472,18,490,Conversation log\n"
                    "45,ChatGPT,1087,0,1087,Conversation log\n"
                    "118,GPT-4,417,276,693,API log\n")
    requests, failed = read_burstgpt(path)
    assert failed == 1
    assert [(r.arrival_us, r.input_tokens, r.output_tokens) for r in requests] == \
        [(5e6, 472, 18), (118e6, 417, 276)]
    code, out, _ = run_cli(capsys, "trace", "import", "burstgpt", path, "--out", tmp_path / "b.jsonl")
    assert code == 0 and "skipped failed rows (zero response tokens): 1" in out
    assert traces.load_trace(tmp_path / "b.jsonl").requests[1].arrival_us == 113e6   # rebased


def test_vidur_csv(tmp_path):
    path = tmp_path / "vidur.csv"
    path.write_text("request_id,arrived_at,num_prefill_tokens,num_decode_tokens,num_total_tokens\n"
                    "0,0.0,1024,128,1152\n1,0.25,2048,16,2064\n")
    requests = read_vidur(path)
    assert [(r.arrival_us, r.input_tokens, r.output_tokens) for r in requests] == \
        [(0, 1024, 128), (250000, 2048, 16)]


def test_mooncake_sample_and_rate_scale(tmp_path, capsys):
    path = tmp_path / "mc.jsonl"
    rows = [{"timestamp": 0, "input_length": 600, "output_length": 5, "hash_ids": [0, 1]},
            {"timestamp": 10, "input_length": 700, "output_length": 6, "hash_ids": [0, 2]},
            {"timestamp": 30, "input_length": 80, "output_length": 7, "hash_ids": [3]}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "out.jsonl"
    code, _, err = run_cli(capsys, "trace", "import", "mooncake", path, "--out", out,
                           "--rate-scale", "2")
    assert code == 0, err
    trace = traces.load_trace(out)
    assert [r.arrival_us for r in trace.requests] == [0, 5000, 15000]
    assert trace.requests[1].hash_ids == [0, 2]


@pytest.mark.parametrize("fmt,text,line,words", [
    ("azure", "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:17:03.9799600,10,2\n"
              "2023-11-16 18:17:04.0,10,2,9\n", 3,
     "malformed CSV row: Expected 3 fields in line 3, saw 4"),
    ("azure", "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:17:03.9799600,10,2\n"
              "yesterday,10,2\n", 3, "column 'TIMESTAMP': cannot read 'yesterday' as a timestamp"),
    ("azure", "TIMESTAMP,ContextTokens\n2023-11-16 18:17:03.9799600,10\n", 1,
     "missing column 'GeneratedTokens'"),
    ("azure", "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:17:03.9799600,10\n", 2,
     "column 'GeneratedTokens': empty cell"),
    ("vidur", "arrived_at,num_prefill_tokens,num_decode_tokens\n0.5,10,2\n1.0,-4,2\n", 3,
     "column 'num_prefill_tokens': must not be negative, got -4"),
    ("vidur", "arrived_at,num_prefill_tokens,num_decode_tokens\n0.5,10,2\n-1.0,4,2\n", 3,
     "column 'arrived_at': must not be negative"),
    ("vidur", "arrived_at,num_prefill_tokens,num_decode_tokens\n0.5,ten,2\n", 2,
     "column 'num_prefill_tokens': cannot read 'ten' as a number"),
    ("vidur", "arrived_at,num_prefill_tokens,num_decode_tokens\n0.5,10.5,2\n", 2,
     "expected a whole number"),
    ("burstgpt", "Timestamp,Model,Request tokens,Response tokens,Total tokens,Log Type\n"
                 "1,ChatGPT,x,1,2,API log\n", 2, "column 'Request tokens'"),
    ("mooncake", '{"timestamp": 0, "input_length": 5, "output_length": 1}\n{"timestamp": 1,\n', 2,
     "malformed JSON"),
    ("mooncake", '{"timestamp": 0, "output_length": 1}\n', 1, "missing field 'input_length'"),
    ("mooncake", '{"timestamp": -3, "input_length": 5, "output_length": 1}\n', 1,
     "field 'timestamp' must not be negative"),
    ("mooncake", '{"timestamp": 0, "input_length": "5", "output_length": 1}\n', 1,
     "field 'input_length' must be an integer"),
    ("mooncake", '{"timestamp": 0, "input_length": 5, "output_length": 1, "hash_ids": [1, -2]}\n', 1,
     "hash_ids"),
])
def test_bad_request_trace(tmp_path, capsys, fmt, text, line, words):
    path = tmp_path / ("in.jsonl" if fmt == "mooncake" else "in.csv")
    path.write_text(text)
    out = tmp_path / "out.jsonl"
    out.write_text("previous content\n")
    code, stdout, err = run_cli(capsys, "trace", "import", fmt, path, "--out", out)
    assert code == 2 and stdout == ""
    assert err.startswith(f"error: {path}:{line}: ") and words in err, err
    assert len(err.strip().splitlines()) == 1
    assert out.read_text() == "previous content\n"          # nothing half-written
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["in.jsonl" if fmt == "mooncake"
                                                                else "in.csv", "out.jsonl"])


def test_request_options():
    reqs = [traces.Request(id=f"r{i}", arrival_us=1000.0 + i * 1e6, input_tokens=1, output_tokens=1)
            for i in range(100)]
    assert [r.id for r in time_window(reqs, 2e6, 5e6)] == ["r2", "r3", "r4"]
    assert len(subsample(reqs, max_requests=10)) == 10
    half = subsample(reqs, fraction=0.5, seed=3)
    assert half == subsample(reqs, fraction=0.5, seed=3) and 30 < len(half) < 70
    kept = RequestOptions(window_start_us=10e6, rate_scale=10, max_requests=5).apply(reqs)
    assert [r.id for r in kept] == ["r10", "r11", "r12", "r13", "r14"]
    assert [r.arrival_us for r in kept] == pytest.approx([0, 1e5, 2e5, 3e5, 4e5])
    with pytest.raises(UserError):
        subsample(reqs, fraction=1.5)


def test_bad_options(tmp_path, capsys):
    path = tmp_path / "v.csv"
    path.write_text("arrived_at,num_prefill_tokens,num_decode_tokens\n0,1,1\n")
    code, _, err = run_cli(capsys, "trace", "import", "vidur", path, "--out", tmp_path / "o.jsonl",
                           "--window", "5s:1s")
    assert code == 2 and "error: --window: end must be after start" in err
    code, _, err = run_cli(capsys, "trace", "import", "vidur", path, "--out", tmp_path / "o.txt")
    assert code == 2 and "unknown trace file type" in err
