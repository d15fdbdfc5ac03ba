"""Building a DAG node by node, shared by the synthesizer and the importers."""

from contextlib import contextmanager

from common.errors import UserError
from traces.model import ComputeNode, FlowNode

DEFAULT_INTRA_HOST_BPS = 900e9     # NVLink-class copies between GPUs of one host


def split_integer(total, weights):
    """``total`` split in proportion to ``weights``, in integers summing to ``total``.

    Largest-remainder rounding, so byte counts stay exact when a transfer is
    cut into shares.
    """
    weight_sum = sum(weights)
    if weight_sum <= 0:
        return [0] * len(weights)
    exact = [total * w / weight_sum for w in weights]
    parts = [int(x) for x in exact]
    by_remainder = sorted(range(len(weights)), key=lambda i: exact[i] - parts[i], reverse=True)
    for i in by_remainder[:total - sum(parts)]:
        parts[i] += 1
    return parts


class DagBuilder:
    """Collects nodes; ``transfer`` turns host-to-itself traffic into a local delay.

    ``intra_host_bps`` is the rate of copies between GPUs of one host
    (NVLink/PCIe); ``protocol_of(stage)`` picks each flow's transport;
    ``server_of(host)`` groups hosts that are GPUs of one server (rail-style
    NICs), whose traffic is local too.  Nodes made inside ``serving(batch)``
    serve that batch.
    """

    def __init__(self, intra_host_bps=None, protocol_of=None, server_of=None):
        self.nodes = []
        self._ids = set()
        self.intra_host_bps = intra_host_bps
        self.protocol_of = protocol_of or (lambda stage: "tcp")
        self.server_of = server_of or (lambda host: host)
        self.batch = None

    @contextmanager
    def serving(self, batch_id):
        """Nodes made in this block serve batch ``batch_id``."""
        self.batch = batch_id
        try:
            yield
        finally:
            self.batch = None

    def _add(self, node):
        if node.id in self._ids:
            # Node ids are derived from request ids ("r1.L0.attn@h1"), so two
            # requests such as "r1" and "r1.L0" can make the same one.
            raise UserError(f"node {node.id!r}", "made twice: a request id collides with the "
                                                 "node ids derived from another's (e.g. 'r1' "
                                                 "and 'r1.c0'); rename the requests")
        self._ids.add(node.id)
        self.nodes.append(node)
        return node.id

    def compute(self, node_id, request_id, host, duration_us, deps=(), layer=None, label=None):
        return self._add(ComputeNode(id=node_id, request_id=request_id, host=host,
                                     duration_us=float(duration_us), deps=_unique(deps),
                                     layer=layer, label=label, batch=self.batch))

    def flow(self, node_id, request_id, src, dst, nbytes, stage, deps=(), layer=None,
             label=None, protocol=None, recorded_fct_us=None, recorded_cct_us=None):
        return self._add(FlowNode(id=node_id, request_id=request_id, src=src, dst=dst,
                                  bytes=int(nbytes), stage=stage, deps=_unique(deps),
                                  layer=layer, protocol=protocol or self.protocol_of(stage),
                                  label=label, recorded_fct_us=recorded_fct_us,
                                  recorded_cct_us=recorded_cct_us, batch=self.batch))

    def transfer(self, node_id, request_id, src, dst, nbytes, stage, deps=(), layer=None,
                 label=None, **recorded):
        """Move ``nbytes``; returns the ids a consumer of the data must wait for.

        Between servers this is a flow; inside one server (one host, or GPU
        hosts that ``server_of`` groups) a compute node lasting
        ``nbytes * 8 / intra_host_bps`` (traffic that never reaches the
        network); nothing at all for zero bytes.  ``recorded`` (captured
        timings, ``recorded_fct_us`` / ``recorded_cct_us``) goes on a flow.
        """
        if nbytes <= 0:
            return _unique(deps)
        if self.server_of(src) != self.server_of(dst):
            return [self.flow(node_id, request_id, src, dst, nbytes, stage, deps, layer, label,
                              **recorded)]
        if not self.intra_host_bps:
            return _unique(deps)
        took = nbytes * 8 / self.intra_host_bps * 1e6
        return [self.compute(node_id, request_id, src, took, deps, layer,
                             label or f"local {stage} copy")]


def _unique(ids):
    return list(dict.fromkeys(ids))
