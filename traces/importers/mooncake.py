"""Mooncake request traces (kvcache-ai/Mooncake, FAST'25), JSON Lines.

Each line: ``timestamp`` (ms since the trace start), ``input_length``,
``output_length`` and ``hash_ids`` (ids of 512-token prefix-cache blocks; a
block id seen in an earlier request is a prefix-cache hit).  Production
traces bucket timestamps (many requests share one); ``jitter_us`` spreads
the requests of a bucket uniformly over it, seeded.
"""

import json
import math

import numpy as np

from common.errors import UserError
from traces.model import Request
from traces.jsonl_io import numbered_lines

MS = 1000.0  # microseconds per millisecond


def read_mooncake(path, jitter_us=None, seed=0, id_prefix="r"):
    """Requests of a Mooncake JSONL file.

    ``jitter_us``: None keeps timestamps; a number spreads requests sharing a
    timestamp over ``[t, t + jitter_us)``; ``"auto"`` uses the smallest gap
    between distinct timestamps as the bucket width.
    """
    rows = list(_rows(path))
    times = np.array([row[0] for row in rows], dtype=float)
    if jitter_us is not None and len(rows):
        times = _jitter(times, jitter_us, seed, path)
    requests = []
    for (stamp, inputs, outputs, hashes, line), time in zip(rows, times):
        requests.append(Request(id=f"{id_prefix}{len(requests)}", arrival_us=float(time),
                                input_tokens=inputs, output_tokens=outputs, hash_ids=hashes))
    return requests


def _rows(path):
    try:
        handle = open(path, encoding="utf-8")
    except FileNotFoundError:
        raise UserError(path, "no such file") from None
    except OSError as err:
        raise UserError(path, f"cannot read: {err.strerror or err}") from None
    with handle:
        for number, line in numbered_lines(handle, path):
            if not line.strip():
                continue
            where = f"{path}:{number}"
            try:
                record = json.loads(line.rstrip("\r\n"))
            except json.JSONDecodeError as err:
                raise UserError(where, f"malformed JSON: {err.msg} (column {err.colno})") from None
            if not isinstance(record, dict):
                raise UserError(where, "expected a JSON object")
            stamp = _number(record, "timestamp", where, integer=False)
            inputs = _number(record, "input_length", where)
            outputs = _number(record, "output_length", where)
            hashes = record.get("hash_ids")
            if hashes is not None:
                if not isinstance(hashes, list) or not all(
                        isinstance(h, int) and not isinstance(h, bool) and h >= 0 for h in hashes):
                    raise UserError(where, "field 'hash_ids' must be a list of non-negative "
                                           "integers")
            yield stamp * MS, inputs, outputs, hashes, number


def _number(record, name, where, integer=True):
    if name not in record:
        raise UserError(where, f"missing field '{name}'")
    value = record[name]
    kind = int if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kind) or not math.isfinite(value):
        what = "an integer" if integer else "a number"
        raise UserError(where, f"field '{name}' must be {what}, got {json.dumps(value)}")
    if value < 0:
        raise UserError(where, f"field '{name}' must not be negative, got {value}")
    return value


def _jitter(times, jitter_us, seed, path):
    if jitter_us == "auto":
        distinct = np.unique(times)
        gaps = np.diff(distinct)
        if not len(gaps):
            return times
        jitter_us = float(gaps.min())
    if jitter_us < 0:
        raise UserError("--jitter", f"must not be negative, got {jitter_us}")
    # A bucketed timestamp stands for any time in [t, t + width): draw one.
    rng = np.random.default_rng(seed)
    return times + rng.random(len(times)) * jitter_us
