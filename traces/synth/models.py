"""Transformer models the synthesizer knows: shapes that set bytes and FLOPs.

Built in: three MoE models from the issue (bf16) and dense Llama-3 models for
tensor parallelism.  ``--model FILE.yaml`` adds any other model with the same
fields (see ``traces/models/example_moe.yaml``).  Every count here is per
layer unless it says otherwise.
"""

import os

from pydantic import BaseModel, ConfigDict, Field, model_validator

from common.errors import UserError
from traces.yaml_input import load_yaml, parse_model


class ModelSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    layers: int = Field(gt=0)
    hidden: int = Field(gt=0)
    q_heads: int = Field(gt=0)
    kv_heads: int = Field(gt=0)
    head_dim: int = Field(gt=0)
    experts: int = Field(default=0, ge=0)          # 0: dense model
    top_k: int = Field(default=0, ge=0)
    expert_ffn: int = Field(default=0, ge=0)       # FFN width of one expert
    ffn: int = Field(default=0, ge=0)              # FFN width of a dense layer
    bytes_per_element: int = Field(default=2, gt=0)  # bf16

    @model_validator(mode="after")
    def _shape(self):
        if self.experts:
            if not 0 < self.top_k <= self.experts or not self.expert_ffn:
                raise ValueError("a MoE model needs 0 < top_k <= experts and expert_ffn")
        elif not self.ffn:
            raise ValueError("a dense model (experts: 0) needs ffn")
        if self.q_heads % self.kv_heads:
            raise ValueError("q_heads must be a multiple of kv_heads")
        return self

    @property
    def is_moe(self):
        return self.experts > 0

    @property
    def kv_bytes_per_token_layer(self):
        """K and V of one token in one layer: 2 x KV heads x head dim x bytes."""
        return 2 * self.kv_heads * self.head_dim * self.bytes_per_element

    @property
    def dispatch_bytes_per_token(self):
        """One token's all-to-all payload each way: top-k x hidden x bytes."""
        return self.top_k * self.hidden * self.bytes_per_element

    @property
    def activation_bytes_per_token(self):
        """One token's hidden state, the size a TP all-reduce carries."""
        return self.hidden * self.bytes_per_element

    def truncated(self, layers):
        """The same model with its first ``layers`` layers (smaller emulations)."""
        if layers is None:
            return self
        if not 0 < layers <= self.layers:
            raise UserError("--layers", f"must be between 1 and {self.layers} for {self.name}")
        return self.model_copy(update={"layers": layers})


BUILTIN_MODELS = {spec.name.lower(): spec for spec in (
    ModelSpec(name="Mixtral-8x7B", layers=32, hidden=4096, q_heads=32, kv_heads=8,
              head_dim=128, experts=8, top_k=2, expert_ffn=14336),
    ModelSpec(name="DBRX", layers=40, hidden=6144, q_heads=48, kv_heads=8,
              head_dim=128, experts=16, top_k=4, expert_ffn=10752),
    ModelSpec(name="Grok-1", layers=64, hidden=6144, q_heads=48, kv_heads=8,
              head_dim=128, experts=8, top_k=2, expert_ffn=32768),
    ModelSpec(name="Llama-3-70B", layers=80, hidden=8192, q_heads=64, kv_heads=8,
              head_dim=128, ffn=28672),
    ModelSpec(name="Llama-3-8B", layers=32, hidden=4096, q_heads=32, kv_heads=8,
              head_dim=128, ffn=14336),
)}


def load_model(name_or_path, layers=None):
    """A built-in model by (case-insensitive) name, or a model YAML file."""
    key = str(name_or_path).lower()
    if key in BUILTIN_MODELS:
        spec = BUILTIN_MODELS[key]
    elif key.endswith((".yaml", ".yml")) or os.path.exists(name_or_path):
        spec = parse_model(ModelSpec, load_yaml(name_or_path), name_or_path)
    else:
        names = ", ".join(s.name for s in BUILTIN_MODELS.values())
        raise UserError("--model", f"unknown model {name_or_path!r} (built in: {names}; "
                                   "or give a YAML file)")
    return spec.truncated(layers)
