"""``vllm bench serve`` results (``--save-result --save-detailed``), JSON.

The saved object holds per-request arrays (vLLM's ``vllm/benchmarks/
serve.py``): ``input_lens`` and ``output_lens`` (tokens), ``ttfts`` (s, the
deployment's measured time to first token), ``errors`` ("" when the request
succeeded), and in recent versions ``start_times`` (s, ``perf_counter`` when
the request was sent) and ``queue_times`` (s the client held it back under
``--max-concurrency``).  A request arrives at ``start_time - queue_time``,
relative to the first; failed requests are skipped.  Without
``start_times`` arrivals are spread evenly at the run's ``request_rate``
(what ``vllm bench serve`` aims for on average, not its random gaps), and
the notes say so.  Each request keeps its measured TTFT
(``recorded_ttft_us``) for comparison with the replay.
"""

import json
import math

from common.errors import UserError
from common.json_file import read_json_object
from traces.model import Request

ARRAYS = ("input_lens", "output_lens", "ttfts")


def read_vllm_bench(path, id_prefix="r"):
    """``(requests, notes)``."""
    result = read_json_object(path, several="holds several runs (saved with --append-result): "
                                             "keep one run's object per file")
    missing = [key for key in ARRAYS if not isinstance(result.get(key), list)]
    if missing:
        raise UserError(path, f"no per-request {', '.join(missing)}: save the run with "
                              "`vllm bench serve --save-result --save-detailed`")
    n = len(result["input_lens"])
    for key in ARRAYS + ("errors", "start_times", "queue_times"):
        if key in result and (not isinstance(result[key], list) or len(result[key]) != n):
            raise UserError(f"{path}: {key}", f"expected a list of {n} values (one per request)")
    notes = {}
    starts = result.get("start_times")
    if starts is None:
        rate = result.get("request_rate")
        if not isinstance(rate, (int, float)) or not math.isfinite(rate) or rate <= 0:
            raise UserError(path, "no start_times and no finite request_rate: cannot tell when "
                                  "requests arrived (use a vLLM that saves start_times)")
        starts = [i / rate for i in range(n)]
        notes["arrivals spread evenly at request_rate (no start_times)"] = n
    queued = result.get("queue_times") or [0.0] * n
    errors = result.get("errors") or [""] * n
    rows = []
    for i in range(n):
        where = f"{path}: request {i}"
        if errors[i]:
            continue
        n_in, n_out = _number(result["input_lens"][i], where, "input_lens", integer=True), \
            _number(result["output_lens"][i], where, "output_lens", integer=True)
        ttft = _number(result["ttfts"][i], where, "ttfts")
        arrival = _number(starts[i], where, "start_times") - _number(queued[i], where,
                                                                     "queue_times")
        rows.append((arrival, n_in, n_out, ttft))
    notes["failed requests skipped (errors)"] = n - len(rows)
    if not rows:
        raise UserError(path, "no successful requests")
    origin = min(r[0] for r in rows)
    requests = [Request(id=f"{id_prefix}{i}", arrival_us=round((t - origin) * 1e6, 3),
                        input_tokens=n_in, output_tokens=n_out,
                        recorded_ttft_us=round(ttft * 1e6, 3))
                for i, (t, n_in, n_out, ttft) in enumerate(sorted(rows, key=lambda r: r[0]))]
    return requests, notes


def _number(value, where, key, integer=False):
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or value < 0 or (integer and value != int(value)):
        kind = "a whole number" if integer else "a number"
        raise UserError(where, f"{key} must be {kind} >= 0, got {json.dumps(value)}")
    return int(value) if integer else float(value)
