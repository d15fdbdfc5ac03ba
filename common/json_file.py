"""Reading a JSON object from a file, every problem a one-line UserError."""

import json
from pathlib import Path

from common.errors import UserError


def read_json_object(path, several=None):
    """The JSON object in ``path``.  ``several``: the message when the file
    holds more than one JSON document (default: the parser's)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(path, "missing file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(path, f"cannot read ({exc})") from None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        if several and exc.msg == "Extra data":
            raise UserError(path, several) from None
        raise UserError(path, f"not valid JSON (line {exc.lineno}: {exc.msg})") from None
    if not isinstance(value, dict):
        raise UserError(path, "expected a JSON object")
    return value
