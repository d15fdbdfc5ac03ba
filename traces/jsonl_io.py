"""JSON Lines trace files: a header line, then one record per line."""

import json

from common.errors import UserError
from traces.model import FORMAT_NAME, FORMAT_VERSION, from_record, to_record
from traces.schema_check import check_record
from traces.trace import Trace


def read_jsonl(path):
    """Read and field-check a JSONL trace (graph checks are Trace.validate)."""
    trace = Trace(path=str(path))
    header_seen = False
    with open(path, encoding="utf-8") as handle:
        for number, line in numbered_lines(handle, path):
            if not line.strip():
                continue
            where = f"{path}:{number}"
            try:
                record = json.loads(line.rstrip("\r\n"), parse_constant=_reject_constant,
                                    parse_float=_finite_float)
            except json.JSONDecodeError as err:
                raise UserError(where, f"malformed JSON: {err.msg} (column {err.colno})") from None
            except ValueError as err:
                raise UserError(where, f"malformed JSON: {err}") from None
            if not header_seen:
                _read_header(record, where, trace)
                header_seen = True
                continue
            check_record(record, where)
            if record["kind"] == "header":
                raise UserError(where, "a second header line (only the first line is a header)")
            trace.add(from_record(record), where)
    if not header_seen:
        raise UserError(f"{path}:1", "empty trace file (expected a header line "
                                     f'{{"kind": "header", "format": "{FORMAT_NAME}", '
                                     f'"version": 1}})')
    trace.fields_checked = True
    return trace


def numbered_lines(handle, path):
    """(line number, line) of a text file; undecodable text is a UserError naming the line."""
    number = 0
    try:
        for number, line in enumerate(handle, start=1):
            yield number, line
    except UnicodeDecodeError:
        raise UserError(f"{path}:{number + 1}", "not UTF-8 text") from None


def _read_header(record, where, trace):
    if not isinstance(record, dict) or record.get("format") != FORMAT_NAME:
        raise UserError(where, f'the first line must be the header {{"kind": "header", '
                               f'"format": "{FORMAT_NAME}", "version": 1}}')
    check_record(record, where)
    trace.version = check_version(record["version"], where)
    trace.source = record.get("source", "")
    trace.nic_bps = dict(record.get("nic_bps", {}))
    trace.meta = dict(record.get("meta", {}))


def _reject_constant(name):
    raise ValueError(f"{name} is not a number JSON allows")


def _finite_float(text):
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError(f"{text} is too large")
    return value


def check_version(version, where):
    """The header's version, if this reader reads it."""
    if version > FORMAT_VERSION:
        raise UserError(where, f"format version {version} is newer than this reader "
                               f"(reads up to version {FORMAT_VERSION})")
    return version


def write_jsonl(trace, handle):
    """Write ``trace`` to an open text file."""
    dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
    handle.write(dumps(trace.header()) + "\n")
    for record in trace.records():
        handle.write(dumps(to_record(record)) + "\n")
