"""The controller process's configuration, written by whoever starts it."""

import json

from pydantic import BaseModel, ConfigDict, Field


class ControllerSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    topology: str                      # topology file
    link_rate_factor: float = 1.0      # its link rates scaled (a bandwidth sweep point)
    policy: str = "fair"
    policy_params: dict = Field(default_factory=dict)
    policy_config: str | None = None   # a user's policies YAML
    num_queues: int = 8
    rate_scale: float = 1000.0         # real / emulated link rate
    byte_scale: float = 1.0            # real / emulated bytes
    socket_path: str                   # the flow registry's Unix socket
    token: str
    out_dir: str                       # queue_changes.csv, controller.json, controller.log
    of_port: int                       # OpenFlow listen port on 127.0.0.1
    tick: float | None = None          # real seconds; None: the policy's own
    fit_sizes: list[int] = Field(default_factory=list)
    fit_stages: list[str] = Field(default_factory=list)

    @property
    def time_dilation(self):
        return self.rate_scale / self.byte_scale

    @classmethod
    def read(cls, path):
        with open(path, encoding="utf-8") as handle:
            return cls.model_validate(json.load(handle))
