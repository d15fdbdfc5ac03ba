"""Parquet trace files: one table whose rows are the JSONL records.

Columns are the union of the record fields (a field a row's kind does not
have is null); the header is JSON in the file's key-value metadata under
``llm-comm-dag.header``.  Column types and the per-kind checks (required
fields, minimums, enums) are derived from the JSON Schema, and run column-wise
so that large traces load quickly.  Rows are numbered from 1 in messages.
"""

import json

import pyarrow as pa
import pyarrow.parquet as pq

from common.errors import UserError
from traces.column_checks import arrow_schema, first_problem, records_table
from traces.jsonl_io import check_version
from traces.model import FORMAT_NAME, from_record
from traces.schema_check import check_record
from traces.trace import Trace

HEADER_KEY = f"{FORMAT_NAME}.header".encode()


def write_parquet(trace, path):
    table = records_table(trace.records())
    table = table.replace_schema_metadata({HEADER_KEY: json.dumps(trace.header())})
    pq.write_table(table, path, compression="zstd")


def read_parquet(path):
    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError) as err:
        raise UserError(path, f"cannot read as Parquet: {err}") from None
    trace = Trace(path=str(path))
    _read_header(table, path, trace)
    table = _conform(table, path)
    problem = first_problem(table)
    if problem:
        index, message = problem
        row_id = table.column("id")[index].as_py()
        raise UserError(f"{path}: row {index + 1}" + (f" (id {row_id})" if row_id else ""), message)
    names = table.column_names
    values = [table.column(name).to_pylist() for name in names]
    for row, cells in enumerate(zip(*values), start=1):
        record = {name: value for name, value in zip(names, cells) if value is not None}
        trace.add(from_record(record), f"{path}: row {row}")
    trace.fields_checked = True
    return trace


def _read_header(table, path, trace):
    raw = (table.schema.metadata or {}).get(HEADER_KEY)
    if raw is None:
        raise UserError(path, f"not an {FORMAT_NAME} trace (no '{HEADER_KEY.decode()}' metadata)")
    try:
        header = json.loads(raw)
    except json.JSONDecodeError as err:
        raise UserError(f"{path}: header", f"malformed JSON: {err.msg}") from None
    check_record(header, f"{path}: header")
    trace.version = check_version(header["version"], f"{path}: header")
    trace.source = header.get("source", "")
    trace.nic_bps = dict(header.get("nic_bps", {}))
    trace.meta = dict(header.get("meta", {}))


def _conform(table, path):
    """Cast every column to its schema type; add absent optional columns as nulls."""
    schema = arrow_schema()
    for name in table.column_names:
        if name not in schema.names:
            raise UserError(f"{path}: column '{name}'", "unknown column")
    columns = []
    for field in schema:
        if field.name not in table.column_names:
            columns.append(pa.nulls(table.num_rows, field.type))
            continue
        try:
            columns.append(table.column(field.name).cast(field.type))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as err:
            raise UserError(f"{path}: column '{field.name}'",
                            f"must hold {field.type} values: {err}") from None
    return pa.table(columns, schema=schema)


