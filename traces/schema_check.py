"""Checking single records against the JSON Schema, with one-line messages.

The schema file is the single source of truth for field names, types and
ranges: JSON Lines records are validated with it directly, and the Parquet
reader derives its column checks from it (:mod:`traces.parquet_io`).
"""

import functools
import json
import os

import jsonschema

from common.errors import UserError

SCHEMA_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                           "schema", "llm-comm-dag.v2.schema.json")
KINDS = ("header", "request", "batch", "compute", "flow")


@functools.cache
def schema():
    with open(SCHEMA_PATH, encoding="utf-8") as handle:
        return json.load(handle)


@functools.cache
def _validator(kind):
    # Validate against the kind's own definition: its errors name the field,
    # where the top-level if/then union would only say "does not match".
    # References are inlined once: resolving them per record is ~8x slower.
    return jsonschema.Draft202012Validator(_inline(schema()["$defs"][kind], schema()["$defs"]))


def _inline(node, defs):
    if isinstance(node, dict):
        if "$ref" in node:
            return _inline(defs[node["$ref"].rsplit("/", 1)[1]], defs)
        return {key: _inline(value, defs) for key, value in node.items()}
    if isinstance(node, list):
        return [_inline(item, defs) for item in node]
    return node


def kind_definition(kind):
    """The schema of one record kind with its ``$ref``s resolved one level."""
    defs = schema()["$defs"]
    resolved = {}
    for name, prop in defs[kind]["properties"].items():
        if "$ref" in prop:
            prop = defs[prop["$ref"].rsplit("/", 1)[1]]
        resolved[name] = prop
    return {"required": defs[kind]["required"], "properties": resolved}


def check_record(record, where):
    """Raise UserError unless ``record`` is a valid record of its kind."""
    if not isinstance(record, dict):
        raise UserError(where, f"expected a JSON object, got {_short(record)}")
    kind = record.get("kind")
    if kind is None:
        raise UserError(where, f"missing field 'kind' (one of {', '.join(KINDS)})")
    if kind not in KINDS:
        raise UserError(where, f"field 'kind' must be one of {', '.join(KINDS)}, "
                               f"got {_short(kind)}")
    errors = list(_validator(kind).iter_errors(record))
    if errors:
        raise UserError(where, _message(min(errors, key=_rank), record))


def _rank(error):
    # Report a missing or unknown field before a bad value, then the first field.
    order = {"required": 0, "additionalProperties": 1}.get(error.validator, 2)
    return order, [str(p) for p in error.absolute_path]


def _message(error, record):
    field = ".".join(str(p) for p in error.absolute_path)
    name = f"field '{field}'"
    value = _short(error.instance)
    if error.validator == "required":
        missing = [f for f in error.validator_value if f not in error.instance]
        return f"missing field '{missing[0]}'"
    if error.validator == "additionalProperties":
        known = set(error.schema.get("properties", {}))
        unknown = sorted(set(error.instance) - known)
        return f"unknown field '{unknown[0]}'"
    if error.validator == "type":
        types = error.validator_value
        types = " or ".join(types) if isinstance(types, list) else types
        return f"{name} must be {_article(types)}, got {value}"
    if error.validator == "minimum":
        return f"{name} must be >= {error.validator_value}, got {value}"
    if error.validator == "maximum":
        return f"{name} must be <= {error.validator_value:g}, got {value}"
    if error.validator == "exclusiveMinimum":
        return f"{name} must be > {error.validator_value}, got {value}"
    if error.validator in ("enum", "const"):
        allowed = error.validator_value
        allowed = allowed if isinstance(allowed, list) else [allowed]
        return f"{name} must be one of {', '.join(map(str, allowed))}, got {value}"
    if error.validator == "minLength":
        return f"{name} must not be empty"
    if error.validator == "maxLength":
        return f"{name} is longer than {error.validator_value} characters"
    if error.validator == "minItems":
        return f"{name} must not be an empty list"
    if error.validator == "uniqueItems":
        return f"{name} lists an item twice: {value}"
    if error.validator == "anyOf":
        # host-or-null and id-or-null fields: the only way to fail is a bad string.
        return f"{name} must be a non-empty string or null, got {value}"
    return f"{name}: {error.message}"


def _article(types):
    return ("an " if types[0] in "aeiou" else "a ") + types


def _short(value):
    text = json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "..."
