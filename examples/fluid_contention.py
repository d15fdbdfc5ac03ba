"""MFS against fair sharing on two contending flows, in the fluid allocator.

A P2D transfer with a 10 ms deadline and a background KV fetch share one
10 Gbit/s link.  Under ``fair`` they split it and the P2D misses; MFS defers
the P2D while it has laxity, then promotes it, and it meets the deadline.

    python examples/fluid_contention.py
"""

from policies import get_policy
from policies.fluid import FluidFlow, simulate

MB = 10**6
LINK = {"bottleneck": 10e9}           # bit/s


def contention():
    return [FluidFlow("p2d", "r1", 0.0, 8 * MB, ("bottleneck",), stage="p2d", deadline=0.010),
            FluidFlow("kv", "r2", 0.0, 10 * MB, ("bottleneck",), stage="kv_fetch", layer=2)]


def main():
    finish = {}
    for name in ("fair", "mfs"):
        result = simulate(LINK, contention(), policy=get_policy(name), tick=0.0005)
        p2d = result.flows["p2d"]
        finish[name] = p2d.finish
        print(f"{name:>4}: P2D done at {p2d.finish * 1e3:5.2f} ms "
              f"({'meets' if p2d.met_deadline else 'misses'} its 10 ms deadline), "
              f"queues {p2d.queues}")
    return finish


if __name__ == "__main__":
    main()
