"""Strict priority across queues, max-min fairness within a queue, pacing caps."""

import pytest

from policies.fluid import allocate

G = 1e9


@pytest.mark.parametrize("flows, capacity, expected", [
    # one link, one queue: equal shares
    ([("a", 0, ("l",), None), ("b", 0, ("l",), None)], {"l": 10 * G},
     {"a": 5 * G, "b": 5 * G}),
    # strict priority: queue 0 takes the link, queue 3 gets nothing
    ([("hi", 0, ("l",), None), ("lo", 3, ("l",), None)], {"l": 10 * G},
     {"hi": 10 * G, "lo": 0.0}),
    # a paced high-priority flow leaves the rest to the lower queue
    ([("hi", 0, ("l",), 2 * G), ("lo", 3, ("l",), None)], {"l": 10 * G},
     {"hi": 2 * G, "lo": 8 * G}),
    # a capped flow's unused share goes to its peer in the same queue
    ([("a", 0, ("l",), 1 * G), ("b", 0, ("l",), None)], {"l": 10 * G},
     {"a": 1 * G, "b": 9 * G}),
    # classic max-min: b crosses both links, L2 is the tighter one
    ([("a", 0, ("L1",), None), ("b", 0, ("L1", "L2"), None), ("c", 0, ("L2",), None)],
     {"L1": 10 * G, "L2": 4 * G}, {"a": 8 * G, "b": 2 * G, "c": 2 * G}),
    # the lower queue is max-min fair over what the upper one left
    ([("h", 0, ("L1",), None), ("x", 1, ("L1", "L2"), None), ("y", 1, ("L2",), None)],
     {"L1": 10 * G, "L2": 10 * G}, {"h": 10 * G, "x": 0.0, "y": 10 * G}),
])
def test_allocate(flows, capacity, expected):
    rates = allocate(flows, capacity)
    assert rates == {k: pytest.approx(v, abs=1) for k, v in expected.items()}


def test_allocation_never_exceeds_capacity():
    flows = [(f"f{i}", i % 3, ("a", "b") if i % 2 else ("b", "c"), None if i % 5 else 1e8)
             for i in range(60)]
    capacity = {"a": 10 * G, "b": 25 * G, "c": 4 * G}
    rates = allocate(flows, capacity)
    for link, cap in capacity.items():
        assert sum(rates[f] for f, _, path, _ in flows if link in path) <= cap * (1 + 1e-9)
    # work conservation: every flow is stopped by a full link or its cap
    for f, _, path, cap in flows:
        full = any(sum(rates[g] for g, _, p, _ in flows if l in p) >= capacity[l] * (1 - 1e-9)
                   for l in path)
        assert full or (cap is not None and rates[f] == pytest.approx(cap))


def _kernel_rates(flows, capacity):
    """The compiled allocation (the one the simulator runs) on ``allocate``'s inputs."""
    import numpy as np

    from policies.fluid.allocation_kernel import allocate_slots

    links = {link: i for i, link in enumerate(capacity)}
    width = max(len(path) for _, _, path, _ in flows)
    hops = np.zeros((len(flows), width), dtype=np.int64)
    for i, (_, _, path, _) in enumerate(flows):
        hops[i, :len(path)] = [links[link] for link in path]
    rates = np.full(len(flows), -1.0)
    allocate_slots(np.arange(len(flows), dtype=np.int64),
                   np.array([q for _, q, _, _ in flows], dtype=np.int64),
                   np.array([np.inf if c is None else c for *_, c in flows]), hops,
                   np.array([len(p) for _, _, p, _ in flows], dtype=np.int64),
                   np.array(list(capacity.values()), dtype=np.float64), rates)
    return {f[0]: float(r) for f, r in zip(flows, rates)}


@pytest.mark.parametrize("seed", range(40))
def test_compiled_allocation_matches_the_reference(seed):
    """Random fabrics: several queues, shared links, caps; the kernel gives
    the reference's rates flow by flow."""
    import random

    rng = random.Random(seed)
    capacity = {f"l{i}": rng.choice([1, 4, 10, 25, 100]) * G for i in range(rng.randint(1, 12))}
    flows = []
    for i in range(rng.randint(1, 80)):
        path = tuple(rng.sample(sorted(capacity), rng.randint(1, min(5, len(capacity)))))
        cap = rng.choice([None, None, None, rng.uniform(0.1, 20) * G])
        flows.append((f"f{i}", rng.randint(0, 4), path, cap))
    reference = allocate(flows, capacity)
    compiled = _kernel_rates(flows, capacity)
    assert compiled == {k: pytest.approx(v, rel=1e-9, abs=1e-3) for k, v in reference.items()}
    assert min(compiled.values()) >= 0
