"""BurstGPT request traces (HPMLL/BurstGPT), CSV.

Columns ``Timestamp`` (s since the trace start), ``Model``, ``Request
tokens``, ``Response tokens``, ``Total tokens``, ``Log Type``.  Rows with zero
response tokens are failed requests: they are skipped and counted.
"""

from traces.importers.csv_table import numbers, read_csv_text
from traces.model import Request

COLUMNS = ("Timestamp", "Model", "Request tokens", "Response tokens", "Total tokens", "Log Type")


def read_burstgpt(path, id_prefix="r"):
    """Returns ``(requests, skipped_failed)``."""
    frame = read_csv_text(path, COLUMNS)
    times = numbers(frame, "Timestamp", path)
    inputs = numbers(frame, "Request tokens", path, integer=True)
    outputs = numbers(frame, "Response tokens", path, integer=True)
    failed = outputs == 0
    requests = [Request(id=f"{id_prefix}{i}", arrival_us=float(t) * 1e6,
                        input_tokens=int(n_in), output_tokens=int(n_out))
                for i, (t, n_in, n_out) in enumerate(zip(times[~failed], inputs[~failed],
                                                          outputs[~failed]))]
    return requests, int(failed.sum())
