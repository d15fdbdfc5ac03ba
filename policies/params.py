"""Field types shared by the policies' parameter models, in human units.

YAML may write ``1ms``, ``10Mbps`` or ``1MiB`` (see :mod:`common.units`);
the models hold seconds, bits per second and bytes.
"""

from typing import Annotated

from pydantic import BeforeValidator, ConfigDict, Field

from common.errors import UserError
from common.units import parse_duration, parse_rate, parse_size

STRICT = ConfigDict(extra="forbid")


def _via(parse):
    def validate(value):
        try:
            return parse(value)
        except UserError as err:  # pydantic reports ValueErrors with their field
            raise ValueError(err.message) from None
    return validate


def _thresholds(values):
    if values is None:
        return None
    if not isinstance(values, (list, tuple)):
        raise ValueError("expected a list of sizes")
    parsed = [_via(parse_size)(v) for v in values]
    if any(b <= a for a, b in zip(parsed, parsed[1:])):
        raise ValueError("thresholds must be strictly ascending")
    return parsed


Seconds = Annotated[float, BeforeValidator(_via(parse_duration)), Field(gt=0)]
BitsPerSecond = Annotated[float, BeforeValidator(_via(parse_rate))]
# Ascending byte thresholds; None: fit them to the trace's flow sizes.
SizeThresholds = Annotated[list[int] | None, BeforeValidator(_thresholds)]

# The controller's re-evaluation period for policies that need one (real
# seconds; dilated in emulation).
TICK_DEFAULT = 0.001
