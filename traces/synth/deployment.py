"""Where a model runs: prefill instances, decode hosts, rates, GPU speed.

A deployment YAML (``traces/deployments/*.yaml``)::

    name: single_tor_8
    gpus_per_host: 1           # GPUs in each host
    gpu_tflops: 700            # effective bf16 TFLOP/s of one GPU
    nic_rate: 100Gbps          # every host's NIC (host_nic_rates overrides)
    intra_host_rate: 900Gbps   # NVLink/PCIe between GPUs of one host
    prefill_instances:
      - {hosts: [h1, h2, h3], ep: 3}   # ep (MoE) / tp (dense): optional checks
      - {hosts: [h4, h5, h6]}
    decode_hosts: [h7, h8]
    kv_cache: {hosts: [h8], reuse_ratio: 0.0, block_tokens: 512}
    p2d: layerwise             # or bulk
    slo_scale: 3.0             # TTFT SLO = slo_scale x isolated TTFT
    instance_queue: fcfs       # or none
    protocols: {kv_fetch: tcp, collective: tcp, p2d: tcp}
    batching:                  # continuous batching (absent: one request per forward pass)
      max_num_batched_tokens: 8192   # token budget of one forward pass
      max_num_seqs: 1024             # requests in one forward pass
      chunked_prefill: true          # split a prompt over passes to fill the budget

The batching defaults are vLLM V1's for its OpenAI server on H100-class
GPUs (``EngineArgs.get_batch_defaults``: 8192 tokens, 1024 sequences;
2048 and 256 on A100 and smaller GPUs; chunked prefill always on).

An instance's parallel degree is all its GPUs: MoE models run data-parallel
attention and expert parallelism (EP) over them, dense models tensor
parallelism (TP).

NICs: by default a host is a server whose ``gpus_per_host`` GPUs share its
one NIC.  Rail-style servers give each GPU its own NIC: then a host is one
GPU (``gpus_per_host: 1``) and ``servers`` groups the hosts of one server,
e.g. ``servers: [[s1g1, s1g2, s1g3, s1g4], ...]`` on a
``topology generate rail`` fabric; traffic between GPUs of one server stays
off the network (a local delay at ``intra_host_rate``).
"""

from typing import Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from common.errors import UserError
from common.units import parse_rate
from traces.model import PROTOCOLS
from traces.yaml_input import load_yaml, parse_model


def _rate(value):
    try:
        return parse_rate(value)
    except UserError as err:
        raise ValueError(err.message) from None


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PrefillInstance(_Strict):
    hosts: list[str] = Field(min_length=1)
    ep: Optional[int] = Field(default=None, gt=0)
    tp: Optional[int] = Field(default=None, gt=0)


class KvCache(_Strict):
    hosts: list[str] = Field(default_factory=list)   # prefix-cache holders
    reuse_ratio: float = Field(default=0.0, ge=0, le=1)  # for requests without hash_ids
    block_tokens: int = Field(default=512, gt=0)


class Batching(_Strict):
    """Continuous batching of prefills on each instance (``traces/synth/batching.py``)."""

    max_num_batched_tokens: int = Field(default=8192, gt=0)
    max_num_seqs: int = Field(default=1024, gt=0)
    chunked_prefill: bool = True


class Deployment(_Strict):
    name: str = "deployment"
    gpus_per_host: int = Field(default=1, gt=0)
    gpu_tflops: float = Field(gt=0)
    nic_rate: float = 100e9
    host_nic_rates: dict[str, float] = Field(default_factory=dict)
    intra_host_rate: float = 900e9
    prefill_instances: list[PrefillInstance] = Field(min_length=1)
    decode_hosts: list[str] = Field(min_length=1)
    kv_cache: KvCache = Field(default_factory=KvCache)
    p2d: Literal["layerwise", "bulk"] = "layerwise"
    slo_scale: float = Field(default=3.0, gt=0)
    instance_queue: Literal["fcfs", "none"] = "fcfs"
    protocols: dict[str, Literal[PROTOCOLS]] = Field(default_factory=dict)
    batching: Optional[Batching] = None
    servers: list[list[str]] = Field(default_factory=list)   # rail-style: GPU hosts per server
    _server: dict = PrivateAttr(default_factory=dict)         # host -> its server's name

    _rates = field_validator("nic_rate", "intra_host_rate", mode="before")(lambda v: _rate(v))

    @field_validator("host_nic_rates", mode="before")
    @classmethod
    def _host_rates(cls, value):
        if not isinstance(value, dict):
            raise ValueError("expected a mapping host: rate")
        return {str(host): _rate(rate) for host, rate in value.items()}

    @field_validator("protocols")
    @classmethod
    def _stages(cls, value):
        unknown = set(value) - {"kv_fetch", "collective", "p2d", "other"}
        if unknown:
            raise ValueError(f"unknown stage {sorted(unknown)[0]!r}")
        return value

    @model_validator(mode="after")
    def _batching_queues(self):
        if self.batching is not None and self.instance_queue != "fcfs":
            raise ValueError("batching forms batches from each instance's queue: it needs "
                             "instance_queue: fcfs")
        return self

    @model_validator(mode="after")
    def _disjoint(self):
        seen = {}
        for i, instance in enumerate(self.prefill_instances):
            for host in instance.hosts:
                if host in seen:
                    raise ValueError(f"host {host!r} is in two prefill instances")
                seen[host] = i
        for host in self.decode_hosts:
            if host in seen:
                raise ValueError(f"decode host {host!r} is also a prefill host")
        server = {}                     # built whole, so validating twice is harmless
        for i, hosts in enumerate(self.servers):
            if not hosts:
                raise ValueError(f"servers.{i} is empty")
            for host in hosts:
                if host in server:
                    raise ValueError(f"host {host!r} is in servers.{server[host][6:]} and "
                                     f"servers.{i}")
                server[host] = f"server{i}"
        if self.servers:
            if self.gpus_per_host != 1:
                raise ValueError("with servers (one NIC per GPU) a host is one GPU: "
                                 "gpus_per_host must be 1")
            missing = [h for h in self.hosts() if h not in server]
            if missing:
                raise ValueError(f"host {missing[0]!r} is in no server (with servers, every "
                                 f"prefill, decode and cache host must be listed in one)")
        self._server = server
        return self

    # -- derived --------------------------------------------------------------
    def server_of(self, host):
        """The server a host belongs to (itself, unless ``servers`` groups it)."""
        return self._server.get(host, host)

    def nic(self, host):
        return self.host_nic_rates.get(host, self.nic_rate)

    def nic_bps(self):
        """The ``nic_bps`` header of traces made with this deployment."""
        return {"default": self.nic_rate, **self.host_nic_rates}

    def protocol(self, stage):
        return self.protocols.get(stage, "tcp")

    def degree(self, instance):
        return len(instance.hosts) * self.gpus_per_host

    def host_flops(self):
        return self.gpus_per_host * self.gpu_tflops * 1e12

    def hosts(self):
        names = [h for inst in self.prefill_instances for h in inst.hosts]
        return names + list(self.decode_hosts) + list(self.kv_cache.hosts)

    def check_model(self, model, where):
        """Check the optional ep/tp degrees against the instance sizes."""
        for i, instance in enumerate(self.prefill_instances):
            degree = self.degree(instance)
            wanted, other = ("ep", "tp") if model.is_moe else ("tp", "ep")
            if getattr(instance, other) is not None:
                raise UserError(f"{where}: prefill_instances.{i}.{other}",
                                f"{model.name} is {'MoE' if model.is_moe else 'dense'}: "
                                f"its instances use {wanted.upper()}, not {other.upper()}")
            given = getattr(instance, wanted)
            if given is not None and given != degree:
                raise UserError(f"{where}: prefill_instances.{i}.{wanted}",
                                f"{wanted} {given} != {len(instance.hosts)} hosts x "
                                f"{self.gpus_per_host} GPUs = {degree}")


def load_deployment(path):
    return parse_model(Deployment, load_yaml(path), path)


def generate_deployment(hosts, prefill_instances, degree, decode_hosts=None, cache_hosts=1,
                        parallelism="ep", name="generated", nic_rate="100Gbps", gpus_per_host=1):
    """A deployment over ``hosts`` (in topology order, so an instance's hosts
    are neighbours: one leaf or pod when the topology numbers them so):
    ``prefill_instances`` instances of ``degree`` hosts each, then
    ``decode_hosts`` decode hosts (default: one per instance), then
    ``cache_hosts`` prefix-cache holders; each host has ``gpus_per_host``
    GPUs, so an instance's EP/TP degree is ``degree x gpus_per_host``.
    Returns the YAML mapping, validated."""
    decode_hosts = prefill_instances if decode_hosts is None else decode_hosts
    if min(prefill_instances, degree, decode_hosts, gpus_per_host) < 1 or cache_hosts < 0:
        raise UserError("deployment", "instances, degree, decode hosts and GPUs per host "
                                      "must be at least 1")
    if parallelism not in ("ep", "tp"):
        raise UserError("--parallelism", "ep (MoE) or tp (dense)")
    prefill = prefill_instances * degree
    need = prefill + decode_hosts + cache_hosts
    if need > len(hosts):
        raise UserError("deployment", f"needs {need} hosts ({prefill} prefill, {decode_hosts} "
                                      f"decode, {cache_hosts} cache), the topology has {len(hosts)}")
    data = {
        "name": name, "gpus_per_host": gpus_per_host, "gpu_tflops": 700, "nic_rate": nic_rate,
        "intra_host_rate": "900Gbps",
        "prefill_instances": [{"hosts": list(hosts[i * degree:(i + 1) * degree]),
                               parallelism: degree * gpus_per_host}
                              for i in range(prefill_instances)],
        "decode_hosts": list(hosts[prefill:prefill + decode_hosts]),
        "kv_cache": {"hosts": list(hosts[prefill + decode_hosts:need]), "reuse_ratio": 0.0,
                     "block_tokens": 512},
        "p2d": "layerwise", "slo_scale": 3.0, "instance_queue": "fcfs",
    }
    parse_model(Deployment, data, name)
    return data
