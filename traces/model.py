"""The records of a communication-DAG trace: requests, compute nodes, flow nodes.

A trace is a set of LLM-serving *requests* plus a DAG of *nodes* that each
belong to one request, or (format version 2) to a *batch* of requests that a
prefill instance computes together (continuous batching).  A ``ComputeNode`` takes a fixed time on a host (GPU
work, or an intra-host copy modelled as a local delay; compute nodes are
timers and do not queue behind each other); a ``FlowNode`` is a network
transfer between two hosts.  A node starts when all its
dependencies have ended (a node without dependencies starts at its request's
arrival) and a request's time to first token (TTFT) ends when its terminal
node ends.  Times are real microseconds, sizes bytes.  ``traces/README.md``
and ``traces/schema/`` document every field.
"""

from dataclasses import dataclass, field, fields
from typing import ClassVar, Optional, Union

FORMAT_NAME = "llm-comm-dag"
FORMAT_VERSION = 2          # the newest version this code reads and writes
# A trace is written as version 1 unless it has batches, so files without
# them still read with older readers.

STAGES = ("kv_fetch", "collective", "p2d", "other")
PROTOCOLS = ("tcp", "udp")


@dataclass(slots=True)
class Request:
    """One inference request; placement and SLO are filled in by the synthesizer."""

    kind: ClassVar[str] = "request"
    id: str
    arrival_us: float
    input_tokens: int
    output_tokens: int
    ttft_slo_us: Optional[float] = None    # deadline = arrival_us + ttft_slo_us
    prefill_hosts: Optional[list] = None   # hosts of the prefill instance
    decode_host: Optional[str] = None
    terminal: Optional[str] = None         # node whose end is the first token
    hash_ids: Optional[list] = None        # prefix-cache block ids (Mooncake)
    cached_tokens: Optional[int] = None    # prompt tokens served from a prefix cache
    recorded_ttft_us: Optional[float] = None   # the TTFT a real deployment measured

    @property
    def deadline_us(self):
        return None if self.ttft_slo_us is None else self.arrival_us + self.ttft_slo_us


@dataclass(slots=True)
class Batch:
    """Requests a prefill instance computes together in one forward pass.

    A node with ``batch`` set serves every request of the batch (its
    ``request_id`` is one of them, the first by convention); such a node is
    scheduled as the batch's, with the batch's earliest deadline.
    ``tokens[i]`` is the prompt tokens ``requests[i]`` computes in this batch
    (a chunk of its prompt with chunked prefill).
    """

    kind: ClassVar[str] = "batch"
    id: str
    requests: list
    tokens: Optional[list] = None
    prefill_hosts: Optional[list] = None   # hosts of the prefill instance


@dataclass(slots=True)
class ComputeNode:
    """Work on ``host`` lasting ``duration_us`` (no network traffic; a timer)."""

    kind: ClassVar[str] = "compute"
    id: str
    request_id: str
    host: str
    duration_us: float
    deps: list = field(default_factory=list)
    layer: Optional[int] = None            # model layer executed (prefill progress)
    label: Optional[str] = None
    batch: Optional[str] = None            # the batch it serves (format version 2)

    def hosts(self):
        return (self.host,)


@dataclass(slots=True)
class FlowNode:
    """``bytes`` sent from ``src`` to ``dst`` over the network."""

    kind: ClassVar[str] = "flow"
    id: str
    request_id: str
    src: str
    dst: str
    bytes: int
    stage: str                             # one of STAGES
    deps: list = field(default_factory=list)
    layer: Optional[int] = None            # layer that consumes the data
    protocol: str = "tcp"                  # one of PROTOCOLS
    label: Optional[str] = None
    # Captured traces only: what the capture measured, at its own NIC rate
    # (the header's nic_bps): this transfer's duration, and the duration of
    # the collective it is part of.  Results compare the replay with them.
    recorded_fct_us: Optional[float] = None
    recorded_cct_us: Optional[float] = None
    batch: Optional[str] = None            # the batch it serves (format version 2)

    def hosts(self):
        return (self.src, self.dst)


Node = Union[ComputeNode, FlowNode]
RECORD_TYPES = {cls.kind: cls for cls in (Request, Batch, ComputeNode, FlowNode)}
# Field order of each record kind, as written to files.
RECORD_FIELDS = {kind: [f.name for f in fields(cls)] for kind, cls in RECORD_TYPES.items()}


def to_record(obj):
    """The JSON-ready dict of a request or node (``None`` fields left out)."""
    record = {"kind": obj.kind}
    for name in RECORD_FIELDS[obj.kind]:
        value = getattr(obj, name)
        if value is None:
            continue
        if isinstance(value, float) and name.endswith("_us"):
            value = round(value, 3)        # nanosecond resolution is plenty
            if value.is_integer():
                value = int(value)
        record[name] = value
    return record


def from_record(record):
    """Build the object of a record already checked against the schema."""
    cls = RECORD_TYPES[record["kind"]]
    values = {name: record[name] for name in RECORD_FIELDS[cls.kind]
              if record.get(name) is not None}
    for name in ("deps", "prefill_hosts", "hash_ids", "requests", "tokens"):
        if name in values:
            values[name] = list(values[name])
    return cls(**values)


# Words in a label naming a collective kind (synthesized labels use hyphens);
# longest first, so "reduce_scatter" is not read as "reduce".
_COLLECTIVE_KINDS = {word: kind for kind in (
    "reduce_scatter_block", "reduce_scatter", "all_to_all", "all_reduce", "all_gather",
    "broadcast", "barrier", "gather", "scatter", "reduce")
    for word in (kind, kind.replace("_", "-"))}


def unit_of(node):
    """What a node is scheduled as: its batch, or else its request."""
    return node.batch or node.request_id


def collective_of(node):
    """(collective id, kind) of a collective flow node: its batch or request,
    layer and label (synthesized labels name the step, captured ones the
    operation), so the flows of one collective share an id."""
    label = node.label or "collective"
    first = label.split(maxsplit=1)[0] if label.strip() else ""
    kind = _COLLECTIVE_KINDS.get(first) or next(
        (kind for word, kind in _COLLECTIVE_KINDS.items() if word in label), "other")
    return f"{unit_of(node)}/L{node.layer}/{label}", kind
