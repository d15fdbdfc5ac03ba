"""``run_emulation.py trace ...`` end to end."""

import json

import pytest

from tests.test_traces_support import DEFAULT_WORKLOAD, DEPLOYMENTS, run_cli, small_dag, write_lines


def test_stats_json(tmp_path, capsys):
    path = write_lines(tmp_path / "t.jsonl", small_dag())
    code, out, err = run_cli(capsys, "trace", "stats", path, "--json", "--nic-rate", "8Gbps")
    assert (code, err) == (0, "")
    stats = json.loads(out)
    assert stats["requests"] == 2 and stats["flows"] == 2 and stats["compute_nodes"] == 2
    assert stats["bytes_by_stage"] == {"kv_fetch": 1000, "collective": 0, "p2d": 4096, "other": 0}
    assert stats["flows_by_stage"]["p2d"] == 1
    assert stats["compute_us"] == 20
    assert stats["time_span_us"]["arrivals"] == 10.5
    a = next(r for r in stats["per_request"] if r["id"] == "a")
    assert a["isolated_ttft_us"] == pytest.approx(24.096)
    assert a["network_share"] == pytest.approx(4.096 / 24.096, abs=1e-4)


def test_stats_text_of_default_workload(capsys):
    code, out, _ = run_cli(capsys, "trace", "stats", DEFAULT_WORKLOAD)
    assert code == 0
    assert out.startswith("requests        50\n")
    assert "network share   mean" in out and "kv_fetch" in out and "r19" in out and "... 30 more" in out


def test_help_lists_subcommands(capsys):
    with pytest.raises(SystemExit) as info:
        run_cli(capsys, "trace", "--help")
    assert info.value.code == 0
    out = capsys.readouterr().out
    for command in ("import", "synth", "validate", "stats"):
        assert command in out


def test_synth_then_validate_parquet(tmp_path, capsys):
    out = tmp_path / "dense.parquet"
    code, stdout, err = run_cli(capsys, "trace", "synth", "--requests", "builtin:n=3,seed=4",
                                "--model", "llama-3-8b", "--layers", "2", "--deployment",
                                DEPLOYMENTS / "single_tor_8_dense.yaml", "--out", out)
    assert code == 0, err
    assert stdout.startswith(f"wrote {out}: 3 requests")
    code, stdout, _ = run_cli(capsys, "trace", "validate", out, "--topology", "single_tor_8")
    assert code == 0 and stdout.startswith("ok: ")
