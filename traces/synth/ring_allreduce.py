"""Ring all-reduce as its 2(N-1) steps, one node per host and step.

``N = hosts x g`` ranks form a ring, host by host.  The buffer of ``size``
bytes is cut into N chunks; in reduce-scatter step ``s`` rank ``i`` sends
chunk ``(i - s) mod N`` to rank ``i + 1``, in all-gather step ``s`` chunk
``(i + 1 - s) mod N``.  Each ring edge therefore carries ``2 (N-1) / N x
size`` bytes in total.  Edges between servers are flows; the ``g - 1`` edges
inside a host run in parallel over NVLink and are one local-delay node per
step (with rail-style ``servers``, an edge between GPU hosts of one server is
a local delay of its own).  A host's step waits for its previous step and for the chunk that
arrived from the previous host.
"""

from traces.dag_builder import split_integer


def ring_allreduce(builder, prefix, request_id, hosts, gpus_per_host, size, ready, layer,
                   stage="collective"):
    """Add the steps; ``ready``/result: host -> ids its ranks wait for / end with."""
    g = gpus_per_host
    n = len(hosts) * g
    if n == 1 or size <= 0:
        return ready
    chunks = split_integer(size, [1] * n)
    state = {host: list(ready[host]) for host in hosts}
    for step in range(2 * (n - 1)):
        if step < n - 1:
            chunk_of = lambda rank, s=step: chunks[(rank - s) % n]
        else:
            chunk_of = lambda rank, s=step - (n - 1): chunks[(rank + 1 - s) % n]
        following = {host: [] for host in hosts}
        for index, host in enumerate(hosts):
            ranks = range(index * g, index * g + g)
            # inside the host: rank r -> r + 1 (the whole ring when there is one host)
            inner = list(ranks) if len(hosts) == 1 else list(ranks)[:-1]
            if inner:
                nbytes = max(chunk_of(r) for r in inner)
                following[host] += builder.transfer(f"{prefix}.s{step}@{host}", request_id, host,
                                                    host, nbytes, stage, state[host], layer,
                                                    label="all-reduce step (NVLink)")
            nxt = hosts[(index + 1) % len(hosts)]
            if nxt != host:
                following[nxt] += builder.transfer(f"{prefix}.s{step}.{host}>{nxt}", request_id,
                                                   host, nxt, chunk_of(ranks[-1]), stage,
                                                   state[host], layer, label="all-reduce step")
        state = {host: following[host] or state[host] for host in hosts}
    return state
