"""The bad-input corpus: every case one file in ``tests/bad_inputs/``.

A case writes its ``files`` into an empty directory, runs ``run_emulation.py
ARGV`` there (``{dir}`` in an argument is that directory) and expects what
every bad input gets: exit code 2, nothing on stdout, one line on stderr
starting ``error:`` that holds ``error`` (what is wrong and where), no
traceback, and nothing new in the directory (no half-written output).
"""

from pathlib import Path

import pytest
import yaml

from tests.test_traces_support import run_cli

CORPUS = Path(__file__).parent / "bad_inputs"
CASES = sorted(CORPUS.glob("*.yaml"))


def load(path):
    case = yaml.safe_load(path.read_text())
    assert set(case) <= {"argv", "files", "error"} and {"argv", "error"} <= set(case), path
    return case


def test_the_corpus_is_large_enough():
    assert len(CASES) >= 40


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_a_bad_input_gets_one_line_and_changes_nothing(path, tmp_path, capsys):
    case = load(path)
    for name, content in (case.get("files") or {}).items():
        target = tmp_path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, dict) and "hex" in content:
            target.write_bytes(bytes.fromhex(content["hex"]))
        else:
            target.write_text(content)
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    argv = [str(a).replace("{dir}", str(tmp_path)) for a in case["argv"]]
    code, out, err = run_cli(capsys, *argv)
    assert code == 2, (code, err)
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err
    expected = str(case["error"]).replace("{dir}", str(tmp_path))
    assert expected in lines[0], lines[0]
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before
