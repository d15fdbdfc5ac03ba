"""Reading and writing trace files, JSON Lines or Parquet by extension.

Writes go to a temporary file in the destination directory that replaces the
destination only once complete, so a failed run never leaves half a trace.
"""

import contextlib
import dataclasses
import os
import tempfile

from common.errors import UserError
from traces.graph_checks import stable_topological_order
from traces.jsonl_io import read_jsonl, write_jsonl
from traces.parquet_io import read_parquet, write_parquet

JSONL_SUFFIXES = (".jsonl", ".ndjson")
PARQUET_SUFFIXES = (".parquet", ".pq")


def trace_format(path):
    lower = str(path).lower()
    if lower.endswith(JSONL_SUFFIXES):
        return "jsonl"
    if lower.endswith(PARQUET_SUFFIXES):
        return "parquet"
    raise UserError(path, "unknown trace file type (use .jsonl for JSON Lines or .parquet)")


def check_output(out, *inputs):
    """Refuse an output path that is one of the inputs: writing it would
    destroy what the command reads (checked before any work)."""
    for source in inputs:
        if source and os.path.exists(source) and os.path.exists(out) \
                and os.path.samefile(source, out):
            raise UserError(out, f"the output is the input {source}; choose another --out")


def load_trace(path, validate=True, hosts=None):
    """Read a trace file; by default also run the whole-trace checks."""
    kind = trace_format(path)
    if not os.path.isfile(path):
        raise UserError(path, "no such file")
    trace = read_jsonl(path) if kind == "jsonl" else read_parquet(path)
    if validate:
        trace.validate(hosts)
    return trace


def write_trace(trace, path, validate=True):
    """Write ``trace`` atomically; checks it first so no invalid file is written.

    Nodes are written in a topological order (each after its dependencies),
    keeping the given order wherever the dependencies allow.
    """
    kind = trace_format(path)
    if validate:
        trace.validate()
        order = stable_topological_order(trace.nodes)
        if order != list(range(len(trace.nodes))):
            trace = dataclasses.replace(trace, nodes=[trace.nodes[i] for i in order], node_where=[])
    with atomic_output(path, "w" if kind == "jsonl" else "wb") as (handle, temp_path):
        if kind == "jsonl":
            write_jsonl(trace, handle)
        else:
            handle.close()
            write_parquet(trace, temp_path)


@contextlib.contextmanager
def atomic_output(path, mode="w"):
    """Yield ``(handle, temp_path)``; the file appears at ``path`` only on success."""
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise UserError(path, f"directory {directory} does not exist")
    fd, temp_path = tempfile.mkstemp(prefix=".tmp-", suffix=os.path.basename(path), dir=directory)
    try:
        encoding = None if "b" in mode else "utf-8"
        with os.fdopen(fd, mode, encoding=encoding) as handle:
            yield handle, temp_path
        os.replace(temp_path, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp_path)
        raise
