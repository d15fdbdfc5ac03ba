"""CSV reading with errors that name the file and line.

Everything is read as text first (pandas, C parser) and converted column by
column, so a bad cell is reported as ``file:line: column 'X': ...`` where
line counts from 1 at the header, blank lines included.
"""

import re

import numpy as np
import pandas as pd

from common.errors import UserError

_LINE = re.compile(r"line (\d+)")


def read_csv_text(path, required):
    """DataFrame of strings with the ``required`` columns, blank lines dropped.

    The index is the file line number of each row.
    """
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, skip_blank_lines=False,
                            skipinitialspace=True, encoding="utf-8")
    except FileNotFoundError:
        raise UserError(path, "no such file") from None
    except OSError as err:
        raise UserError(path, f"cannot read: {err.strerror or err}") from None
    except pd.errors.EmptyDataError:
        raise UserError(f"{path}:1", "empty file (expected a CSV header)") from None
    except pd.errors.ParserError as err:
        match = _LINE.search(str(err))
        where = f"{path}:{match.group(1)}" if match else path
        raise UserError(where, f"malformed CSV row: {_reason(err)}") from None
    except UnicodeDecodeError as err:
        raise UserError(path, f"not UTF-8 text: {err.reason}") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise UserError(f"{path}:1", f"missing column '{missing[0]}' "
                                     f"(header has: {', '.join(frame.columns)})")
    frame.index = np.arange(2, len(frame) + 2)
    blank = (frame == "").all(axis=1)
    return frame[~blank]


def _reason(err):
    text = str(err).strip().splitlines()[-1]
    return text.replace("Error tokenizing data. C error: ", "")


def numbers(frame, column, path, integer=False, allow_negative=False):
    """Column as floats (or ints), raising on the first empty, non-numeric or negative cell."""
    text = frame[column].str.strip()
    values = pd.to_numeric(text, errors="coerce")
    bad = values.isna() | ~np.isfinite(values.astype(float).fillna(0))
    _raise_first(bad, frame, column, path, lambda cell: f"cannot read {cell!r} as a number"
                 if cell else "empty cell")
    if integer:
        fractional = values != np.floor(values)
        _raise_first(fractional, frame, column, path,
                     lambda cell: f"expected a whole number, got {cell!r}")
    if not allow_negative:
        _raise_first(values < 0, frame, column, path,
                     lambda cell: f"must not be negative, got {cell}")
    return values.astype(np.int64) if integer else values.astype(float)


def timestamps(frame, column, path):
    """Column of ISO-8601 times (naive, or with an offset) as UTC microseconds."""
    text = frame[column].str.strip()
    parsed = pd.to_datetime(text, format="ISO8601", errors="coerce", utc=True)
    _raise_first(parsed.isna(), frame, column, path,
                 lambda cell: f"cannot read {cell!r} as a timestamp" if cell else "empty cell")
    return (parsed - pd.Timestamp(0, tz="UTC")) / pd.Timedelta(microseconds=1)


def _raise_first(bad, frame, column, path, message):
    if bad.any():
        line = bad[bad].index[0]
        cell = frame.at[line, column].strip()
        raise UserError(f"{path}:{line}", f"column '{column}': {message(cell)}")
