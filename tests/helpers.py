"""Helpers shared by the tests (importable as tests.helpers)."""

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED_TRACES = REPO.parent / "shared" / "traces"


def run_cli(*args, timeout=120, **kwargs):
    """Run run_emulation.py in a subprocess; returns CompletedProcess (text)."""
    return subprocess.run([sys.executable, str(REPO / "run_emulation.py"), *map(str, args)],
                          capture_output=True, text=True, timeout=timeout, cwd=REPO, **kwargs)
