"""What the orchestrator tells a host agent: its DAG nodes, peers and channels.

Written by :mod:`experiments.replay` as JSON and validated here by the agent,
so both ends share one typed definition.  Times are real seconds since the
experiment's time zero; bytes are the trace's (real) bytes.
"""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AgentNode(_Strict):
    """One DAG node this host runs: a compute node, or a flow it sends."""

    id: str
    kind: Literal["compute", "flow"]
    request_id: str
    batch: str | None = None                   # the batch it serves (progress reports)
    members: list[str] = Field(default_factory=list)   # that batch's requests
    deps: list[str] = Field(default_factory=list)
    layer: int | None = None
    duration_us: float | None = None          # compute
    dst: str | None = None                     # flow
    bytes: int | None = None
    stage: str | None = None
    protocol: Literal["tcp", "udp"] = "tcp"
    sport: int | None = Field(default=None, ge=1, le=65535)   # flow: its source port


class AgentConfig(_Strict):
    host: str
    ip: str
    data_port: int
    peers: dict[str, str]                      # host -> IP on the data network
    rate_scale: float
    byte_scale: float
    registry: str                              # the controller's Unix socket
    token: str                    # this host's registry token (controller.protocol.host_token)
    hub_token: str                # this host's hub token (emulator.hub.host_token)
    hub: str                                   # the orchestrator's Unix socket
    peer_sockets: dict[str, str]               # host -> its agent's Unix socket
    notify: dict[str, list[str]]               # node -> other hosts that wait for it
    arrivals: dict[str, float]                 # request or batch -> arrival (real s since t0)
    nodes: list[AgentNode]
    mtu: int
    nic_rate_bps: float                        # emulated line rate of this host's NIC
    provisional_tos: int                       # marking of a flow before its decision arrives
    out: str                                   # records (JSON lines)
    log: str | None = None                     # --serve: where this replay's output goes

    @property
    def dilation(self):
        return self.rate_scale / self.byte_scale
