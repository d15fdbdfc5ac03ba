"""Continuous batching: which requests each forward pass of an instance computes.

Each prefill instance serves its requests first come, first served, one
forward pass (a *step*: every layer once) at a time, as vLLM's scheduler
does for a prefill-only instance:

* a step starts when the instance is free (the previous step's last expert
  or MLP work has ended) and at least one request is waiting;
* it first continues the request whose prompt the previous step chunked,
  then takes waiting requests that have arrived, in arrival order, while the
  token budget ``max_num_batched_tokens`` and ``max_num_seqs`` allow;
* with ``chunked_prefill`` the request that does not fit takes what is left
  of the budget and continues in the next step; without it, it waits for
  the next step (or, alone in an empty step, runs whole: vLLM would require
  a budget of at least the longest prompt instead).

When the instance will be free, and so which requests a step finds waiting,
is read off the DAG built so far on an uncontended network
(:class:`traces.isolated.UncontendedClock`): the batches are those an
engine would form if the network never slowed it down.  The replay then
keeps them fixed, as a trace replays any recorded schedule.
"""

from collections import deque
from dataclasses import dataclass


@dataclass
class Chunk:
    """The part of one request's prompt a step computes."""

    placement: object             # the request's Placement
    tokens: int                   # prompt tokens computed in this step
    done_before: int              # prompt tokens it computed in earlier steps
    index: int                    # 0 for the first chunk

    @property
    def first(self):
        return self.index == 0

    @property
    def last(self):
        return self.done_before + self.tokens >= self.placement.new_tokens


class StepPlanner:
    """Forms one instance's steps from its queue (placements in arrival order)."""

    def __init__(self, placements, batching):
        self.waiting = deque(placements)
        self.batching = batching
        self.partial = None                # (placement, tokens done, chunks done)

    def __bool__(self):
        return bool(self.waiting) or self.partial is not None

    def next_step(self, free_at_us):
        """(start time, [Chunk]) of the next step, the instance being free at ``free_at_us``."""
        first = self.partial[0] if self.partial else self.waiting[0]
        start = max(free_at_us, first.request.arrival_us)
        budget, seqs = self.batching.max_num_batched_tokens, self.batching.max_num_seqs
        chunks = []
        if self.partial:
            placement, done, count = self.partial
            take = min(placement.new_tokens - done, budget)
            chunks.append(Chunk(placement, take, done, count))
            budget -= take
            self.partial = None if done + take >= placement.new_tokens else (
                placement, done + take, count + 1)
        while (self.waiting and self.partial is None and len(chunks) < seqs
               and self.waiting[0].request.arrival_us <= start):
            placement = self.waiting[0]
            need = placement.new_tokens
            if need <= budget or not chunks and not self.batching.chunked_prefill:
                take = need
            elif self.batching.chunked_prefill and budget > 0:
                take = budget
                self.partial = (placement, take, 1)
            else:
                break
            self.waiting.popleft()
            chunks.append(Chunk(placement, take, 0, 0))
            budget -= take
        return start, chunks
