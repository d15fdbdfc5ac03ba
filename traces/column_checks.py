"""Column-wise checks of records against the JSON Schema (fast on large traces).

The Arrow column types and the per-kind checks (required fields, minimums,
enums, non-empty strings and lists, list items) are derived from the schema
file, so JSON Lines (checked record by record with jsonschema) and Parquet or
in-memory traces (checked here, column by column) obey the same rules.
"""

import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from traces.model import to_record
from traces.schema_check import kind_definition, schema

RECORD_KINDS = ("request", "batch", "compute", "flow")
_ARROW = {"string": pa.string(), "integer": pa.int64(), "number": pa.float64()}


def _arrow_type(prop):
    if "enum" in prop or "const" in prop:
        return pa.string()
    if "anyOf" in prop:              # host-or-null, id-or-null
        return pa.string()
    types = prop["type"] if isinstance(prop["type"], list) else [prop["type"]]
    base = [t for t in types if t != "null"][0]
    if base == "array":
        items = prop["items"]
        item_type = "string" if "$ref" in items else items["type"]
        return pa.list_(_ARROW[item_type])
    return _ARROW[base]


def arrow_schema():
    fields = {}
    for kind in RECORD_KINDS:
        for name, prop in kind_definition(kind)["properties"].items():
            fields.setdefault(name, _arrow_type(prop))
    return pa.schema(list(fields.items()))


def records_table(items):
    """Requests, batches and nodes as one Arrow table (raises Arrow errors on
    wrong types)."""
    schema = arrow_schema()
    records = [to_record(item) for item in items]
    columns = {name: [rec.get(name) for rec in records] for name in schema.names}
    return pa.table(columns, schema=schema)


def first_problem(table):
    """``(row index, message)`` of the first bad value, or None."""
    kinds = table.column("kind")
    bad = pc.invert(pc.is_in(kinds, value_set=pa.array(RECORD_KINDS))).fill_null(True)
    problem = _first(table, bad, lambda row: "field 'kind' must be one of request, batch, "
                     f"compute, flow (the header lives in the file metadata), got {json.dumps(row['kind'])}")
    if problem:
        return problem
    found = []
    for kind in RECORD_KINDS:
        definition = kind_definition(kind)
        mask = pc.equal(kinds, kind)
        for name, prop in definition["properties"].items():
            column = table.column(name)
            checks = _value_checks(column, prop, name)
            if name in definition["required"]:
                checks.insert(0, (pc.is_null(column), lambda row, n=name: f"missing field '{n}'"))
            for bad, message in checks:
                problem = _first(table, pc.and_(mask, bad.fill_null(False)), message)
                if problem:
                    found.append(problem)
                    break
    return min(found, key=lambda p: p[0]) if found else None


def _value_checks(column, prop, name):
    """(bad-row mask, message(row)) pairs for the schema keywords of one field."""
    checks = []
    if pa.types.is_floating(column.type):
        finite = pc.is_finite(column)
        checks.append((pc.invert(finite), lambda row: f"field '{name}' must be a finite number, "
                                                      f"got {row[name]}"))
    if "minimum" in prop:
        checks.append((pc.less(column, prop["minimum"]),
                       lambda row: f"field '{name}' must be >= {prop['minimum']}, got {row[name]}"))
    if "maximum" in prop:
        checks.append((pc.greater(column, prop["maximum"]),
                       lambda row: f"field '{name}' must be <= {prop['maximum']:g}, got {row[name]}"))
    if "exclusiveMinimum" in prop:
        checks.append((pc.less_equal(column, prop["exclusiveMinimum"]),
                       lambda row: f"field '{name}' must be > {prop['exclusiveMinimum']}, "
                                   f"got {row[name]}"))
    if "enum" in prop:
        allowed = pa.array(prop["enum"])
        checks.append((pc.invert(pc.is_in(column, value_set=allowed)),
                       lambda row: f"field '{name}' must be one of {', '.join(prop['enum'])}, "
                                   f"got {json.dumps(row[name])}"))
    if pa.types.is_string(column.type) and _non_empty(prop):
        checks.append((pc.equal(column, ""), lambda row: f"field '{name}' must not be empty"))
    limit = _max_length(prop)
    if pa.types.is_string(column.type) and limit:
        checks.append((pc.greater(pc.utf8_length(column), limit),
                       lambda row: f"field '{name}' is longer than {limit} characters"))
    if pa.types.is_list(column.type):
        if prop.get("minItems"):
            checks.append((pc.equal(pc.list_value_length(column), 0),
                           lambda row: f"field '{name}' must not be an empty list"))
        checks.append((_rows_with_bad_items(column),
                       lambda row: f"field '{name}' holds an empty, null or negative item"))
        if prop.get("uniqueItems"):
            checks.append((_rows_with_repeats(column),
                           lambda row: f"field '{name}' lists an item twice: "
                                       f"{json.dumps(row[name])}"))
    return checks


def _non_empty(prop):
    """Whether a string field has ``minLength`` (directly or in an ``anyOf`` option)."""
    if prop.get("minLength"):
        return True
    defs = schema()["$defs"]
    return any(defs[o["$ref"].rsplit("/", 1)[1]].get("minLength")
               for o in prop.get("anyOf", []) if "$ref" in o)


def _max_length(prop):
    """A string field's ``maxLength`` (directly or in an ``anyOf`` option), or None."""
    if prop.get("maxLength"):
        return prop["maxLength"]
    defs = schema()["$defs"]
    return next((defs[o["$ref"].rsplit("/", 1)[1]]["maxLength"] for o in prop.get("anyOf", [])
                 if "$ref" in o and defs[o["$ref"].rsplit("/", 1)[1]].get("maxLength")), None)


def _rows_with_bad_items(column):
    """Mask of rows whose list holds a null, an empty string or a negative number."""
    flat = pc.list_flatten(column)
    if pa.types.is_string(flat.type):
        bad_items = pc.or_(pc.is_null(flat), pc.equal(flat, ""))
    else:
        bad_items = pc.or_(pc.is_null(flat), pc.less(flat, 0))
    parents = pc.list_parent_indices(column).to_numpy()
    mask = np.zeros(len(column), dtype=bool)
    mask[parents[bad_items.fill_null(True).to_numpy(zero_copy_only=False)]] = True
    return pa.chunked_array([mask])


def _rows_with_repeats(column):
    flat = pc.list_flatten(column)
    parents = pc.list_parent_indices(column).to_numpy()
    pairs = pd.DataFrame({"row": parents, "item": flat.to_numpy(zero_copy_only=False)})
    mask = np.zeros(len(column), dtype=bool)
    mask[pairs.loc[pairs.duplicated(), "row"].to_numpy()] = True
    return pa.chunked_array([mask])


def _first(table, mask, message):
    hits = pc.indices_nonzero(mask)
    if len(hits) == 0:
        return None
    index = hits[0].as_py()
    row = {name: table.column(name)[index].as_py() for name in table.column_names}
    return index, message(row)
