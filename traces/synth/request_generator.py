"""Built-in request generator (no third-party data needed).

``builtin:KEY=VALUE,...`` makes a seeded, Mooncake-like request list:

* ``n`` requests (default 12) with Poisson arrivals at ``rate`` per second
  (default 1200), the first at time 0;
* fresh prompt tokens log-normal around a median of ``input`` (default 128),
  output tokens around ``output`` (default 128), spread ``sigma`` (0.6);
* with probability ``share`` (default 0.6) a prompt starts with one of
  ``prompts`` shared system prompts (default 1) of ``prefix`` tokens
  (default 512, i.e. one 512-token block): the first request to use a shared
  prompt computes it, later ones find its blocks (``hash_ids``) in the prefix
  cache;
* ``seed`` (default 1).
"""

import numpy as np

from common.errors import UserError
from traces.model import Request

BLOCK_TOKENS = 512
# The defaults make the shipped default workload (traces/README.md).
DEFAULTS = {"n": 12, "rate": 1200.0, "input": 128, "output": 128, "sigma": 0.6,
            "share": 0.6, "prompts": 1, "prefix": 512, "seed": 1}
_INTEGER = {"n", "input", "output", "prompts", "prefix", "seed"}


def parse_spec(spec):
    """Options of a ``builtin:k=v,...`` string."""
    body = spec.split(":", 1)[1] if ":" in spec else ""
    options = dict(DEFAULTS)
    for item in filter(None, (part.strip() for part in body.split(","))):
        if item == "default":
            continue
        key, sep, value = item.partition("=")
        if not sep or key not in DEFAULTS:
            raise UserError(spec, f"unknown option {item!r} (options: {', '.join(DEFAULTS)})")
        try:
            options[key] = int(value) if key in _INTEGER else float(value)
        except ValueError:
            raise UserError(spec, f"option {key!r}: cannot read {value!r} as a number") from None
    positive = ("n", "rate", "input", "output", "prompts", "prefix")
    if any(options[k] <= 0 for k in positive):
        raise UserError(spec, f"{', '.join(positive)} must be positive")
    if not 0 <= options["share"] <= 1:
        raise UserError(spec, "share must be between 0 and 1")
    return options


def generate_requests(spec="builtin"):
    o = parse_spec(spec)
    rng = np.random.default_rng(o["seed"])
    n = o["n"]
    gaps = rng.exponential(1e6 / o["rate"], size=n)
    arrivals = np.concatenate([[0.0], np.cumsum(gaps[1:])])
    fresh = rng.lognormal(np.log(o["input"]), o["sigma"], n)
    fresh = np.clip(fresh, 16, 8 * o["input"]).astype(int)
    outputs = rng.lognormal(np.log(o["output"]), o["sigma"], n)
    outputs = np.clip(outputs, 1, 8 * o["output"]).astype(int)
    uses_prompt = rng.random(n) < o["share"]
    which_prompt = rng.integers(o["prompts"], size=n)
    prompt_blocks = -(-o["prefix"] // BLOCK_TOKENS)
    # Shared prompts own the first block ids; every request's own blocks follow.
    next_block = o["prompts"] * prompt_blocks
    requests = []
    for i in range(n):
        prefix = []
        if uses_prompt[i]:
            first = int(which_prompt[i]) * prompt_blocks
            prefix = list(range(first, first + prompt_blocks))
        tokens = len(prefix) * BLOCK_TOKENS + int(fresh[i])
        own = -(-tokens // BLOCK_TOKENS) - len(prefix)
        requests.append(Request(id=f"r{i}", arrival_us=round(float(arrivals[i]), 3),
                                input_tokens=tokens, output_tokens=int(outputs[i]),
                                hash_ids=prefix + list(range(next_block, next_block + own))))
        next_block += own
    return requests
