"""Prefill of a MoE model on one instance: DP attention, expert parallelism.

The request's attention runs on one host of the instance (its *attention
host*, which also holds its KV cache); each layer then sends every token's
hidden state to its ``top_k`` experts spread over the ``EP`` GPU ranks of the
instance (dispatch) and gets the results back (combine).  Experts are assumed
balanced, so a host with ``g`` GPUs receives ``g / EP`` of the
``new x top_k x hidden x 2`` bytes each way; the share for the attention
host's own GPUs stays in the host (a local delay for the ``g - 1`` other
GPUs).  With one GPU per host, ``(EP - 1) / EP`` of the bytes cross the
network, as in the issue's formula.  With rail-style ``servers`` (one GPU and
NIC per host), the share for the other GPUs of the attention GPU's server is
one local delay per GPU, in parallel, each at ``intra_host_rate``: a GPU's
NVLink is then counted once per peer, so such copies are up to ``g - 1``
times faster than the one copy of a shared-NIC host (NVLink time is small
beside the network's either way).  Every byte to another server leaves
through the attention GPU's own NIC (no relay over NVLink).

Per layer ``l``:  attn@A -> dispatch A>X -> expert@X -> combine X>A -> attn@A (l+1)
"""

from traces.dag_builder import split_integer
from traces.synth.compute_model import attention_flops, duration_us, expert_flops
from traces.synth.prefill_job import PrefillResult


def build_moe_prefill(builder, job, attention_host):
    model, dep = job.model, job.deployment
    rid, hosts, g = job.request_id, job.hosts, dep.gpus_per_host
    flops = dep.host_flops()
    a = attention_host
    dispatch = split_integer(job.new_tokens * model.dispatch_bytes_per_token, [g] * len(hosts))
    pairs = split_integer(job.new_tokens * model.top_k, [g] * len(hosts))
    attn_us = duration_us(attention_flops(model, job.new_tokens, job.cached_tokens), flops)
    expert_us = [duration_us(expert_flops(model, n), flops) for n in pairs]
    result = PrefillResult()
    waiting = list(job.start_deps)
    for layer in range(model.layers):
        fetched = job.fetch_done[layer].get(a, [])
        attn = builder.compute(f"{rid}.L{layer}.attn@{a}", rid, a, attn_us, waiting + fetched,
                               layer=layer, label="attention")
        result.attention_done.append({a: [attn]})
        waiting, experts = [], []
        for host, nbytes, took in zip(hosts, dispatch, expert_us):
            if host == a:
                nbytes = nbytes * (g - 1) // g          # to the other GPUs of the host
                tag = f"@{a}"
            else:
                tag = f".{a}>{host}"
            got = builder.transfer(f"{rid}.L{layer}.dispatch{tag}", rid, a, host, nbytes,
                                   "collective", [attn], layer, label="all-to-all dispatch")
            expert = builder.compute(f"{rid}.L{layer}.expert@{host}", rid, host, took, got,
                                     layer=layer, label="experts")
            experts.append(expert)
            back = f"@{a}" if host == a else f".{host}>{a}"
            waiting += builder.transfer(f"{rid}.L{layer}.combine{back}", rid, host, a, nbytes,
                                        "collective", [expert], layer, label="all-to-all combine")
    result.done = waiting
    result.release = experts
    return result
