"""Azure LLM inference traces (Azure Public Dataset), CSV.

2023 (Splitwise): ``TIMESTAMP,ContextTokens,GeneratedTokens`` with naive
absolute timestamps and 7 fractional digits (``2023-11-16 18:17:03.9799600``).
2024: the same columns with ISO timestamps ending ``+00:00``.  Both are read
as UTC and made relative to the first request.
"""

from traces.importers.csv_table import numbers, read_csv_text, timestamps
from traces.model import Request

COLUMNS = ("TIMESTAMP", "ContextTokens", "GeneratedTokens")


def read_azure(path, id_prefix="r"):
    frame = read_csv_text(path, COLUMNS)
    times = timestamps(frame, "TIMESTAMP", path)
    inputs = numbers(frame, "ContextTokens", path, integer=True)
    outputs = numbers(frame, "GeneratedTokens", path, integer=True)
    origin = times.min() if len(times) else 0.0
    return [Request(id=f"{id_prefix}{i}", arrival_us=float(t - origin),
                    input_tokens=int(n_in), output_tokens=int(n_out))
            for i, (t, n_in, n_out) in enumerate(zip(times, inputs, outputs))]
