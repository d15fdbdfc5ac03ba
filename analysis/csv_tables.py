"""Reading one results CSV into a typed DataFrame, or a UserError that names
the file, the column and the line.

Everything is read as text first, so an unreadable value is reported with
its line instead of silently becoming NaN.  Empty cells become NaN (numbers)
or <NA> (integers, booleans); text columns keep "".
"""

import pandas as pd

from common.errors import UserError
from analysis.schema import BOOL, FLOAT, INT, STR

_TRUE = {"true", "1", "yes"}
_FALSE = {"false", "0", "no"}


def read_table(path, columns, unique=()):
    """DataFrame of ``path`` with ``columns`` (schema.Column) typed and checked."""
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False, na_filter=False)
    except FileNotFoundError:
        raise UserError(path, "missing file") from None
    except pd.errors.EmptyDataError:
        raise UserError(path, "empty file: expected a header line with columns "
                              + ", ".join(c.name for c in columns)) from None
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise UserError(path, f"not a readable CSV file ({exc})") from None
    raw.columns = [str(c).strip() for c in raw.columns]
    missing = [c.name for c in columns if c.name not in raw.columns and not c.optional]
    if missing:
        raise UserError(path, "missing column" + ("s " if len(missing) > 1 else " ")
                        + ", ".join(repr(m) for m in missing))
    table = raw.copy()
    for column in columns:
        if column.name not in raw.columns:      # optional, absent from older results
            raw[column.name] = ""
        text = raw[column.name].astype(str).str.strip()
        table[column.name] = _typed(path, column, text)
    for name in unique:
        duplicated = table[name].duplicated()
        if duplicated.any():
            row = int(duplicated.to_numpy().nonzero()[0][0])
            raise UserError(path, f"column {name!r}, line {row + 2}: duplicate value "
                                  f"{table[name].iloc[row]!r}")
    return table


def _fail(path, column, text, bad, what):
    row = int(bad.to_numpy().nonzero()[0][0])
    value = text.iloc[row]
    shown = "an empty value" if value == "" else f"{value!r}"
    raise UserError(path, f"column {column.name!r}, line {row + 2}: {shown} {what}")


def _typed(path, column, text):
    empty = text == ""
    if column.required and empty.any():
        _fail(path, column, text, empty, "where a value is required")
    if column.kind == STR:
        if column.choices:
            bad = ~empty & ~text.isin(column.choices)
            if bad.any():
                _fail(path, column, text, bad, f"is not one of {', '.join(column.choices)}")
        return text
    if column.kind == BOOL:
        lowered = text.str.lower()
        bad = ~empty & ~lowered.isin(_TRUE | _FALSE)
        if bad.any():
            _fail(path, column, text, bad, "is not true or false")
        values = pd.Series(pd.NA, index=text.index, dtype="boolean")
        values[lowered.isin(_TRUE)] = True
        values[lowered.isin(_FALSE)] = False
        return values
    numbers = pd.to_numeric(text.where(~empty, None), errors="coerce")
    bad = ~empty & (numbers.isna() | ~numbers.abs().lt(float("inf")))
    if bad.any():
        _fail(path, column, text, bad, "is not a finite number")
    if column.positive and (numbers <= 0).any():
        _fail(path, column, text, numbers <= 0, "is not positive")
    if column.kind == INT:
        fractional = numbers.notna() & (numbers != numbers.round())
        if fractional.any():
            _fail(path, column, text, fractional, "is not a whole number")
        return numbers.astype("Int64")
    assert column.kind == FLOAT, column.kind
    return numbers.astype("float64")
