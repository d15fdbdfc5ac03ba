"""What a policy may read about the network: the scheduler's view.

The view holds the active (registered, unfinished) flows, each request's
prefill progress and the link rates, with indexes kept up to date as flows
come and go so that a policy can look at one request or one stage without
scanning every flow.  Only :class:`~policies.scheduler.Scheduler`
changes a view; policies read it.
"""

from common.errors import UserError

from policies.base import STAGES


class SchedulerView:
    """Active flows, request progress and link rates at time ``now``.

    ``link_rates`` maps directed link ids (the ids used in flow paths) to
    real bits per second.  ``progress`` maps a request to the prefill layer
    it is executing; a request that has not reported yet counts as executing
    layer 0 (its prefill waits for layer 0 first).
    """

    def __init__(self, link_rates=None):
        self.now = 0.0
        self.link_rates = dict(link_rates or {})
        self.flows = {}
        self.progress = {}
        self._by_request = {}
        self._by_stage = {stage: {} for stage in STAGES}
        # Bumped whenever a request gains its first or loses its last flow,
        # so a policy ranking requests can tell when the ranking is stale.
        self.requests_version = 0

    # -- reading -------------------------------------------------------------

    def flows_of_request(self, request_id):
        """The active flows of a request (a read-only dict view of them)."""
        return self._by_request.get(request_id, {}).values()

    def flows_in_stage(self, stage):
        return self._by_stage[stage].values()

    def request_flows_on_link(self, request_id, link_id, stage=None):
        """A request's active flows (of one stage, if given) that cross a link."""
        return [f for f in self.flows_of_request(request_id)
                if link_id in f.path and (stage is None or f.stage == stage)]

    def active_requests(self):
        """Ids of the requests that have at least one active flow."""
        return self._by_request.keys()

    def request_deadline(self, request_id):
        """The earliest deadline among a request's active flows, or None."""
        deadlines = [f.deadline for f in self.flows_of_request(request_id)
                     if f.deadline is not None]
        return min(deadlines) if deadlines else None

    def executing_layer(self, request_id, default=0):
        """The last layer the request reported starting; ``default`` if none yet."""
        return self.progress.get(request_id, default)

    # -- changing (scheduler only) ---------------------------------------------

    def add(self, flow):
        if flow.flow_id in self.flows:
            raise ValueError(f"flow {flow.flow_id!r} is already registered")
        self._locate_bottleneck(flow)
        self.flows[flow.flow_id] = flow
        if flow.request_id not in self._by_request:
            self._by_request[flow.request_id] = {}
            self.requests_version += 1
        self._by_request[flow.request_id][flow.flow_id] = flow
        self._by_stage[flow.stage][flow.flow_id] = flow

    def remove(self, flow_id):
        flow = self.flows.pop(flow_id)
        siblings = self._by_request[flow.request_id]
        del siblings[flow_id]
        if not siblings:
            del self._by_request[flow.request_id]
            self.requests_version += 1
        del self._by_stage[flow.stage][flow_id]
        return flow

    def set_progress(self, request_id, layer):
        """Record a layer report; returns False for a stale (out of order) one."""
        if layer < self.progress.get(request_id, layer):
            return False
        self.progress[request_id] = layer
        return True

    def forget_request(self, request_id):
        """Drop a finished request's progress (its flows must be gone)."""
        self.progress.pop(request_id, None)

    def _locate_bottleneck(self, flow):
        if not flow.path:
            if not flow.bottleneck_rate_bps:
                raise UserError(f"flow {flow.flow_id!r}",
                                "has neither a path nor a bottleneck rate")
            return
        try:
            rates = [self.link_rates[link] for link in flow.path]
        except KeyError as err:
            raise UserError(f"flow {flow.flow_id!r}",
                            f"crosses unknown link {err.args[0]!r}") from None
        slowest = min(range(len(rates)), key=rates.__getitem__)
        flow.bottleneck_link = flow.path[slowest]
        flow.bottleneck_rate_bps = rates[slowest]
