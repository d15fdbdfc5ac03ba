"""Prefill of a dense model on one instance: tensor parallelism (TP).

All ``TP`` GPU ranks of the instance share every layer's work; after the
attention block and after the MLP a ring all-reduce sums the partial hidden
states (``tokens x hidden x 2`` bytes, the step's tokens: one prompt, or a
whole batch).  The KV cache is sharded by heads, so each host holds
``g / TP`` of it.  A batched step's attention sums its requests' FLOPs.

Per layer ``l``:  attn@X -> all-reduce -> mlp@X -> all-reduce -> attn@X (l+1)
"""

from traces.synth.compute_model import attention_flops, duration_us, mlp_flops
from traces.synth.prefill_job import PrefillResult
from traces.synth.ring_allreduce import ring_allreduce


def build_dense_prefill(builder, step):
    model, dep = step.model, step.deployment
    rid, hosts, g, p = step.request_id, step.hosts, dep.gpus_per_host, step.prefix
    ranks = len(hosts) * g
    per_gpu = dep.gpu_tflops * 1e12
    attention = sum(attention_flops(model, e.new_tokens, e.context_tokens) for e in step.entries)
    attn_us = duration_us(attention / ranks, per_gpu)
    mlp_us = duration_us(mlp_flops(model, step.tokens) / ranks, per_gpu)
    size = step.tokens * model.activation_bytes_per_token
    result = PrefillResult()
    waiting = {host: list(step.start_deps) for host in hosts}
    for layer in range(model.layers):
        fetched = {host: [i for e in step.entries for i in e.fetch_done[layer].get(host, [])]
                   for host in hosts}
        attn = {host: [builder.compute(f"{p}.L{layer}.attn@{host}", rid, host, attn_us,
                                       waiting[host] + fetched[host],
                                       layer=layer, label="attention")] for host in hosts}
        result.attention_done.append(attn)
        reduced = ring_allreduce(builder, f"{p}.L{layer}.ar1", rid, hosts, g, size, attn, layer)
        mlp = {host: [builder.compute(f"{p}.L{layer}.mlp@{host}", rid, host, mlp_us,
                                      reduced[host], layer=layer, label="mlp")] for host in hosts}
        waiting = ring_allreduce(builder, f"{p}.L{layer}.ar2", rid, hosts, g, size, mlp, layer)
    result.done = [i for host in hosts for i in waiting[host]]
    result.release = [i for host in hosts for i in mlp[host]]
    return result
