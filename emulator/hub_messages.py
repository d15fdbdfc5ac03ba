"""The messages of the hub channel (orchestrator <-> host agents), typed.

JSON lines over Unix sockets, one object per line with its ``op``.  Both
ends build and parse them here, so a field renamed on one side cannot go
unnoticed on the other; a line that does not parse raises
:class:`HubProtocolError` naming what is wrong.

From an agent:   listening {host, token}; ready {host, connect_errors};
                 done {node}; failed {node, reason}
To the agents:   connect; start {t0}; stop; failed {node, reason} (relayed)
Agent to agent:  done {node} (the hosts whose nodes wait for it)
"""

import json
from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    def encode(self):
        return self.model_dump_json().encode() + b"\n"


class Listening(_Message):
    op: Literal["listening"] = "listening"
    host: str
    token: str = ""               # the host's own token (hub.host_token): binds the connection


class Ready(_Message):
    op: Literal["ready"] = "ready"
    host: str
    connect_errors: int = Field(default=0, ge=0)


class Done(_Message):
    op: Literal["done"] = "done"
    node: str


class Failed(_Message):
    op: Literal["failed"] = "failed"
    node: str
    reason: str = ""


class Connect(_Message):
    op: Literal["connect"] = "connect"


class Start(_Message):
    op: Literal["start"] = "start"
    t0: float                     # CLOCK_MONOTONIC seconds


class Stop(_Message):
    op: Literal["stop"] = "stop"


HubMessage = Annotated[Union[Listening, Ready, Done, Failed, Connect, Start, Stop],
                       Field(discriminator="op")]
_ADAPTER = TypeAdapter(HubMessage)


class HubProtocolError(ValueError):
    """A line on the hub channel that is not a valid message."""


def parse(line):
    """The message a line carries; raises HubProtocolError with the reason."""
    try:
        return _ADAPTER.validate_python(json.loads(line))
    except (ValueError, TypeError) as err:   # JSONDecodeError is a ValueError
        if isinstance(err, ValidationError):
            first = err.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "message"
            raise HubProtocolError(f"{where}: {first['msg']}") from None
        raise HubProtocolError(f"malformed JSON: {err}") from None
