"""Display styles: schedulers from schedulers.yaml, stages and queues fixed.

Every figure asks :func:`scheduler_style` for a scheduler's display name,
colour and marker, so one edit of the YAML restyles the whole report.
"""

import re
import zlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from common.errors import UserError
from common.yaml_file import load_yaml

REGISTRY = Path(__file__).with_name("schedulers.yaml")
_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")

STAGE_COLOURS = {"kv_fetch": "#1b9e77", "collective": "#7570b3", "p2d": "#d95f02",
                 "other": "#999999"}
# Queue 0 is the highest priority: hot colours for high, pale for low.
QUEUE_COLOURS = ["#b2182b", "#d6604d", "#f4a582", "#fddbc7", "#d1e5f0", "#92c5de",
                 "#4393c3", "#2166ac"]


@dataclass(frozen=True)
class Style:
    display: str
    colour: str
    marker: str


def queue_colour(queue):
    return QUEUE_COLOURS[int(queue) % len(QUEUE_COLOURS)]


@lru_cache(maxsize=4)
def load_registry(path=REGISTRY):
    data = load_yaml(path)
    if not isinstance(data.get("schedulers"), dict):
        raise UserError(path, "expected a 'schedulers' mapping")
    styles = {}
    for name, entry in data["schedulers"].items():
        where = f"{path}: schedulers.{name}"
        if not isinstance(entry, dict):
            raise UserError(where, "expected a mapping with display, colour and marker")
        styles[str(name)] = Style(str(entry.get("display", name)),
                                  _colour(entry.get("colour"), where),
                                  _marker(entry.get("marker", "circle"), where))
    fallback = data.get("fallback") or {}
    palette = fallback.get("palette") or ["#8c564b"]
    palette = tuple(_colour(c, f"{path}: fallback.palette") for c in palette)
    marker = _marker(fallback.get("marker", "circle-open"), f"{path}: fallback.marker")
    return styles, palette, marker


def _colour(value, where):
    if not isinstance(value, str) or not _COLOUR.match(value):
        raise UserError(where, f"colour must be '#rrggbb', got {value!r}")
    return value


def _marker(value, where):
    import plotly.graph_objects as go
    try:
        go.scatter.Marker(symbol=value)
    except ValueError:
        raise UserError(where, f"{value!r} is not a plotly marker symbol") from None
    return value


def scheduler_style(name):
    styles, palette, marker = load_registry()
    if name in styles:
        return styles[name]
    # crc32, not hash(): Python salts str hashes per process.
    return Style(name, palette[zlib.crc32(name.encode()) % len(palette)], marker)


def display_name(name):
    return scheduler_style(name).display
