"""A malformed results directory is one UserError naming the file (and the
column and line where there is one); the CLI prints it on one line, exit 2."""

import json

import pytest

from common.errors import UserError
from analysis.results_dir import RunResults
from analysis.summary import summarize_run
from tests.test_analysis_support import flow, request, run_cli, write_run


@pytest.fixture
def run_dir(tmp_path):
    return write_run(tmp_path / "run", {"mfs": {"requests": [request()],
                                                "flows": [flow(flow_id="f0")]}})


def _error(directory):
    with pytest.raises(UserError) as info:
        summarize_run(RunResults(directory))
    return info.value


def test_missing_file_is_named(run_dir):
    (run_dir / "mfs" / "links.csv").unlink()
    error = _error(run_dir)
    assert error.where.endswith("mfs/links.csv") and error.message == "missing file"


def test_missing_run_json(run_dir):
    (run_dir / "run.json").unlink()
    assert _error(run_dir).where.endswith("run.json")


def test_missing_scheduler_folder(run_dir):
    run = json.loads((run_dir / "run.json").read_text())
    run["schedulers"].append("karuna")
    (run_dir / "run.json").write_text(json.dumps(run))
    assert "karuna/flows.csv" in _error(run_dir).where


@pytest.mark.parametrize("bad", [[], "mfs", ["../x"], ["mfs", "mfs"]])
def test_bad_scheduler_list(run_dir, bad):
    run = json.loads((run_dir / "run.json").read_text())
    run["schedulers"] = bad
    (run_dir / "run.json").write_text(json.dumps(run))
    assert "schedulers" in _error(run_dir).message


def test_missing_column_names_file_and_column(run_dir):
    path = run_dir / "mfs" / "flows.csv"
    lines = path.read_text().splitlines()
    header = lines[0].split(",")
    keep = [i for i, name in enumerate(header) if name != "fct_us"]
    path.write_text("\n".join(",".join(line.split(",")[i] for i in keep) for line in lines))
    error = _error(run_dir)
    assert error.where.endswith("mfs/flows.csv")
    assert error.message == "missing column 'fct_us'"


@pytest.mark.parametrize("column, value, message", [
    ("ttft_us", "soon", "column 'ttft_us', line 2: 'soon' is not a finite number"),
    ("ttft_us", "inf", "column 'ttft_us', line 2: 'inf' is not a finite number"),
    ("slo_met", "maybe", "column 'slo_met', line 2: 'maybe' is not true or false"),
    ("arrival_us", "", "column 'arrival_us', line 2: an empty value where a value is required"),
    ("input_tokens", "1.5", "column 'input_tokens', line 2: '1.5' is not a whole number"),
])
def test_bad_request_values(tmp_path, column, value, message):
    directory = write_run(tmp_path / "run", {"mfs": {"requests": [request(**{column: value})]}})
    error = _error(directory)
    assert error.where.endswith("mfs/requests.csv") and error.message == message


@pytest.mark.parametrize("fields, message", [
    ({"stage": "decode"}, "column 'stage', line 2: 'decode' is not one of"),
    ({"bytes": 0}, "column 'bytes', line 2: '0' is not positive"),
    ({"status": "done"}, "column 'status', line 2: 'done' is not one of ok, failed"),
])
def test_bad_flow_values(tmp_path, fields, message):
    directory = write_run(tmp_path / "run", {"mfs": {"flows": [flow(flow_id="f0", **fields)]}})
    assert _error(directory).message.startswith(message)


def test_duplicate_flow_id(tmp_path):
    directory = write_run(tmp_path / "run", {"mfs": {"flows": [flow(flow_id="f0"),
                                                               flow(flow_id="f0")]}})
    assert _error(directory).message == "column 'flow_id', line 3: duplicate value 'f0'"


def test_empty_file_and_bad_json(run_dir):
    (run_dir / "mfs" / "requests.csv").write_text("")
    assert _error(run_dir).message.startswith("empty file")
    (run_dir / "mfs" / "requests.csv").unlink()
    (run_dir / "run.json").write_text("{not json")
    assert _error(run_dir).message.startswith("not valid JSON")


def test_extra_columns_are_allowed(tmp_path):
    directory = write_run(tmp_path / "run", {"mfs": {"requests": [request()]}})
    path = directory / "mfs" / "requests.csv"
    lines = path.read_text().splitlines()
    path.write_text(f"{lines[0]},extra\n{lines[1]},x\n")
    assert summarize_run(RunResults(directory))["schedulers"]["mfs"]["slo_attainment"] == 1


def test_cli_prints_one_error_line(run_dir, capsys):
    path = run_dir / "mfs" / "requests.csv"
    lines = path.read_text().splitlines()
    path.write_text(lines[0].replace("ttft_us,", "") + "\n")
    code, out, err = run_cli(capsys, "summarize", run_dir)
    assert code == 2
    assert err == f"error: {path}: missing column 'ttft_us'\n"
    assert not (run_dir / "summary.json").exists()      # nothing half-written
