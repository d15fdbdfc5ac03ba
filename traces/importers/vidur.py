"""Vidur request traces (microsoft/vidur simulator), CSV.

Columns ``arrived_at`` (s), ``num_prefill_tokens``, ``num_decode_tokens``;
other columns are ignored.
"""

from traces.importers.csv_table import numbers, read_csv_text
from traces.model import Request

COLUMNS = ("arrived_at", "num_prefill_tokens", "num_decode_tokens")


def read_vidur(path, id_prefix="r"):
    frame = read_csv_text(path, COLUMNS)
    times = numbers(frame, "arrived_at", path)
    inputs = numbers(frame, "num_prefill_tokens", path, integer=True)
    outputs = numbers(frame, "num_decode_tokens", path, integer=True)
    return [Request(id=f"{id_prefix}{i}", arrival_us=float(t) * 1e6,
                    input_tokens=int(n_in), output_tokens=int(n_out))
            for i, (t, n_in, n_out) in enumerate(zip(times, inputs, outputs))]
