"""Parsing of rates, sizes and durations written by people.

Rates are bits per second (``100Gbps``, ``25 Gbit/s``, ``400G``), sizes are
bytes (``16MiB``, ``9000``, ``1.5MB``), durations are seconds (``1ms``,
``250us``, ``2s``).  Decimal prefixes are powers of 1000, binary ones (Ki,
Mi, Gi) powers of 1024, as in networking datasheets.
"""

import math
import re

from common.errors import UserError

_PREFIX = {"": 1, "k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12,
           "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}

_RATE = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s*"
                   r"(Ki|Mi|Gi|Ti|[kKMGT]?)\s*(bps|bit/s|b/s|bit|)\s*$")
_SIZE = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s*"
                   r"(Ki|Mi|Gi|Ti|[kKMGT]?)\s*(B|bytes?|)\s*$")
_TIME = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s*(ns|us|ms|s|)\s*$")
_TIME_UNIT = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0, "": 1.0}


def _number(value, pattern, where, what):
    if isinstance(value, bool):
        raise UserError(where, f"expected a {what}, got {value!r}")
    if isinstance(value, (int, float)):
        if not math.isfinite(value):
            raise UserError(where, f"expected a finite {what}, got {value!r}")
        return float(value), None
    if not isinstance(value, str):
        raise UserError(where, f"expected a {what}, got {value!r}")
    match = pattern.match(value)
    if not match:
        raise UserError(where, f"cannot read {value!r} as a {what}")
    return float(match.group(1)), match


def parse_rate(value, where="rate"):
    """Return a rate in bits per second; must be positive."""
    number, match = _number(value, _RATE, where, "rate such as '100Gbps'")
    if match:
        number *= _PREFIX[match.group(2)]
    if number <= 0:
        raise UserError(where, f"rate must be positive, got {value!r}")
    return number


def parse_size(value, where="size"):
    """Return a size in whole bytes; must be positive."""
    number, match = _number(value, _SIZE, where, "size such as '16MiB'")
    if match:
        number *= _PREFIX[match.group(2)]
    if number <= 0:
        raise UserError(where, f"size must be positive, got {value!r}")
    return int(round(number))


def parse_duration(value, where="duration"):
    """Return a duration in seconds; must not be negative."""
    number, match = _number(value, _TIME, where, "duration such as '1ms'")
    if match:
        number *= _TIME_UNIT[match.group(2)]
    if number < 0:
        raise UserError(where, f"duration must not be negative, got {value!r}")
    return number


def format_rate(bps):
    """Human form of a rate in bits per second, e.g. ``100Gbps``."""
    for unit, scale in (("Tbps", 1e12), ("Gbps", 1e9), ("Mbps", 1e6), ("kbps", 1e3)):
        if bps >= scale:
            return f"{bps / scale:g}{unit}"
    return f"{bps:g}bps"
