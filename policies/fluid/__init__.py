"""Fluid flow-level simulator driving the same policy modules as the emulator.

    from policies.fluid import FluidFlow, LayerProgress, simulate
    from policies import get_policy
    result = simulate({"up": 10e9}, [FluidFlow("f1", "r1", 0.0, 10**6, ("up",),
                                               stage="p2d", deadline=0.1)],
                      policy=get_policy("mfs"))
    result.flows["f1"].finish, result.flows["f1"].queue_history
"""

from policies.fluid.allocation import allocate
from policies.fluid.model import (
    FlowResult, FluidFlow, FluidResult, LayerProgress, RequestResult)
from policies.fluid.simulator import FluidSimulator, simulate

__all__ = ["allocate", "FlowResult", "FluidFlow", "FluidResult", "LayerProgress",
           "RequestResult", "FluidSimulator", "simulate"]
