"""What a prefill builder needs about one forward pass, and what it hands back.

A *step* is one forward pass of a prefill instance over every layer: one
request's whole prompt (unbatched), or a batch of requests' prompts or
prompt chunks (continuous batching).  Each :class:`StepEntry` is the part of
one request the step computes.
"""

from dataclasses import dataclass, field
from typing import Optional


@dataclass
class StepEntry:
    request_id: str
    new_tokens: int               # prompt tokens computed in this step
    context_tokens: int           # tokens already in the KV cache (prefix hits, earlier chunks)
    fetch_done: list              # per layer: host -> ids of KV fetched for that layer
    attention_host: Optional[str] = None   # MoE: the host running its attention


@dataclass
class PrefillStep:
    prefix: str                   # node id prefix: the request's or the batch's id
    request_id: str               # request_id of the step's nodes (the batch's first)
    model: object                 # ModelSpec
    deployment: object            # Deployment
    hosts: list                   # hosts of the prefill instance
    entries: list                 # StepEntry, in batch order
    start_deps: list              # wait for the instance (the previous step) and admission

    @property
    def tokens(self):
        return sum(e.new_tokens for e in self.entries)


@dataclass
class PrefillResult:
    attention_done: list = field(default_factory=list)  # per layer: host -> attention node ids
    done: list = field(default_factory=list)            # ids whose end is the end of prefill
    release: list = field(default_factory=list)         # ids after which the instance is free
