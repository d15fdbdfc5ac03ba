"""A custom policy in twenty lines, run on the fluid allocator.

``P2dFirst`` puts every P2D transfer in the top queue and everything else
below it.  Dropped into ``policies/`` as a module of its own (see
``policies/_example.py`` for every hook), it is registered under its
``name`` and every command can run it; here it runs directly.

    python examples/custom_policy.py
"""

from policies.base import Decision, Policy
from policies.fluid import FluidFlow, simulate


class P2dFirst(Policy):
    name = "p2d_first"
    description = "P2D transfers above everything else"
    min_queues = 2

    def assign(self, flow, view):
        return Decision(0 if flow.stage == "p2d" else 1, "initial")


def main():
    flows = [FluidFlow("p2d", "r1", 0.0, 8 * 10**6, ("link",), stage="p2d", deadline=0.010),
             FluidFlow("kv", "r2", 0.0, 10 * 10**6, ("link",), stage="kv_fetch", layer=2)]
    result = simulate({"link": 10e9}, flows, policy=P2dFirst())
    for flow in result.flows.values():
        print(f"{flow.flow_id:>3}: queue {flow.queues[-1]}, done at {flow.finish * 1e3:.2f} ms")
    return result


if __name__ == "__main__":
    main()
