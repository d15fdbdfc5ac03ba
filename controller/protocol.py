"""The flow-registry protocol between host agents and the controller.

JSON Lines over a Unix stream socket: one request object per line, a reply
per request that carries an ``id`` (matching it), and unsolicited pushes from
the controller on connections that said ``hello``.  A Unix socket is
reachable from every host's network namespace (they share the filesystem)
yet never crosses the emulated data network, and its file is readable by
root only; every request also carries the run's token.

Before time zero the orchestrator declares every flow of the trace with its
5-tuple (``declare``), so the controller computes paths and pins them in the
switches then; at run time an agent only streams notices, and the
controller pushes each decision back.  Nothing at run time waits for a
reply or for a switch.

Requests (all units real: seconds, bytes, bit/s; 5-tuples are emulated):

    hello     {host}                              -> {bytes_period}  (this connection gets pushes)
    declare   {flow_table: [FlowRegistration]}    -> {declared, rules}  (paths pinned in the switches)
    start     {t0: CLOCK_MONOTONIC seconds}       -> {}          (the experiment's time zero)
    status    {}                                  -> {switches, flows, policy, changes}
    ping      {}                                  -> {}

Notices (sent without ``id``: no reply unless they fail, then a push
``{"push": "error", "op", "error"}``):

    arrive    {flow_id}                           a declared flow starts sending now
    progress  {request_id, layer, members?}       a prefill starts executing ``layer``
                                                  (a batch's: ``members`` its requests)
    bytes     {flows: {flow_id: bytes_sent}}      bytes acknowledged so far
    demoted   {flow_id, queue, at}                the sender moved itself to ``queue`` at
                                                  CLOCK_MONOTONIC ``at`` (its plan's threshold)
    complete  {flow_id}                           the flow ended (or failed)

Pushes: ``{"push": "decision", flow_id, queue, tos, pace_bps, reason,
decided_at, demote_at}`` (``decided_at`` the controller's CLOCK_MONOTONIC
instant; ``demote_at`` ``[[bytes_sent, queue, tos], ...]``, the demotions
the sender makes itself, real bytes).

Every reply has ``ok``; a failed one has ``error`` with the reason.
"""

import hashlib
import hmac
import json
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

MAX_LINE = 1 << 20   # bytes; a longer line is refused and the connection closed
DECLARE_BUDGET = MAX_LINE // 2   # encoded bytes of flow entries per declare request
NOTICES = frozenset({"arrive", "progress", "bytes", "demoted", "complete"})


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FlowRegistration(_Strict):
    flow_id: str = Field(min_length=1, max_length=200)
    request_id: str = Field(min_length=1, max_length=200)
    stage: Literal["kv_fetch", "collective", "p2d", "other"]
    layer: int | None = Field(default=None, ge=0)
    bytes: int = Field(gt=0)
    deadline: float | None = None          # real seconds since t0
    src: str
    dst: str
    proto: Literal["tcp", "udp"] = "tcp"
    sport: int = Field(ge=1, le=65535)
    dport: int = Field(ge=1, le=65535)


class Request(_Strict):
    id: int | str | None = None
    token: str
    op: Literal["hello", "declare", "arrive", "progress", "bytes", "demoted", "complete", "start",
                "status", "ping"]
    host: str | None = None
    flow_table: list[FlowRegistration] | None = None
    request_id: str | None = None
    members: list[str] | None = None
    layer: int | None = Field(default=None, ge=0)
    flows: dict[str, float] | None = None
    flow_id: str | None = None
    queue: int | None = Field(default=None, ge=0)
    at: float | None = None
    t0: float | None = None

    def need(self, *fields):
        missing = [f for f in fields if getattr(self, f) is None]
        if missing:
            raise ProtocolError(f"op {self.op!r} needs {', '.join(missing)}")


class ProtocolError(Exception):
    """A request the controller refuses, with the reason sent back."""


def parse_request(line):
    """Decode one request line; raises ProtocolError with a readable reason."""
    try:
        data = json.loads(line)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ProtocolError(f"malformed JSON: {err}") from None
    if not isinstance(data, dict):
        raise ProtocolError("a request must be a JSON object")
    try:
        return Request.model_validate(data)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "request"
        raise ProtocolError(f"{where}: {first['msg']}") from None


def request_id_of(line):
    """Best-effort ``id`` of a request line that failed to parse, for the reply."""
    try:
        data = json.loads(line)
        return data.get("id") if isinstance(data, dict) else None
    except Exception:  # noqa: BLE001 - any garbage simply has no id
        return None


class DecisionPush(_Strict):
    """A decision pushed to a flow's sender (the agent applies queue, TOS, pacing)."""

    push: Literal["decision"] = "decision"
    flow_id: str
    queue: int = Field(ge=0)
    tos: int = Field(ge=0, le=255)
    pace_bps: float | None = None
    reason: str
    decided_at: float
    demote_at: list[tuple[float, int, int]] = []    # (bytes sent, queue, tos), ascending


def decision_push(flow_id, queue, tos, pace_bps, reason, decided_at, demote_at=()):
    """A decision push (the fields of :class:`DecisionPush`), built without
    validation: it is on the controller's hot path; the tests validate it."""
    return {"push": "decision", "flow_id": flow_id, "queue": queue, "tos": tos,
            "pace_bps": pace_bps, "reason": reason, "decided_at": decided_at,
            "demote_at": [list(step) for step in demote_at]}


def notice(token, op, **fields):
    """One encoded notice line (arrive, progress, bytes, demoted, complete) from an
    agent; its fields must be the :class:`Request` fields the op takes."""
    if op not in NOTICES:
        raise ValueError(f"{op!r} is not a notice")
    unknown = set(fields) - set(Request.model_fields)
    if unknown:
        raise ValueError(f"notice {op!r}: unknown field {sorted(unknown)[0]!r}")
    return encode({"token": token, "op": op, **fields})


def encode(message):
    return (json.dumps(message, separators=(",", ":")) + "\n").encode()


def host_token(run_token, host):
    """The registry token of ``host``'s agent: an HMAC of the run's token, so
    an agent proves its host and cannot speak for another.  The run token
    itself (the orchestrator's) may speak for any host."""
    return hmac.new(run_token.encode(), host.encode(), hashlib.sha256).hexdigest()


def declare_chunks(flow_table, budget=DECLARE_BUDGET):
    """The flow table in consecutive slices whose entries encode to at most
    ``budget`` bytes (a slice holds one entry at least): ids of 200
    characters escape to 1,200 bytes each when they are not ASCII, so a
    count of flows alone cannot keep a request under the line limit."""
    start, used = 0, 0
    for i, entry in enumerate(flow_table):
        size = len(encode(entry))
        if i > start and used + size > budget:
            yield flow_table[start:i]
            start, used = i, 0
        used += size
    if start < len(flow_table):
        yield flow_table[start:]
