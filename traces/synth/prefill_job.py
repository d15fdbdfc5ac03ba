"""What a prefill builder needs about one request, and what it hands back."""

from dataclasses import dataclass, field


@dataclass
class PrefillJob:
    request_id: str
    model: object                 # ModelSpec
    deployment: object            # Deployment
    hosts: list                   # hosts of the prefill instance
    new_tokens: int               # prompt tokens computed
    cached_tokens: int            # prompt tokens fetched from a prefix cache
    start_deps: list              # wait for the instance (previous request)
    fetch_done: list              # per layer: host -> ids of KV fetched for that layer


@dataclass
class PrefillResult:
    attention_done: list = field(default_factory=list)  # per layer: host -> attention node ids
    done: list = field(default_factory=list)            # ids whose end is the end of prefill
    release: list = field(default_factory=list)         # ids after which the instance is free
