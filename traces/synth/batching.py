"""Continuous batching: which requests each forward pass of an instance computes.

Each prefill instance serves its requests first come, first served, one
forward pass (a *step*: every layer once) at a time, with vLLM V1's
scheduling rules on a prefill-only engine:

* a step starts when the instance is free (the previous step's last expert
  or MLP work has ended) and at least one request is waiting;
* each scheduler first continues the request whose prompt its previous step
  chunked, then takes waiting requests that have arrived, in arrival order,
  while the token budget ``max_num_batched_tokens`` and ``max_num_seqs``
  allow;
* with ``chunked_prefill`` the request that does not fit takes what is left
  of the budget and continues in the next step; without it, it is skipped
  for this step (later, smaller requests may still join) and keeps its
  place at the head of the queue; a prompt above the whole budget runs
  alone and whole (vLLM would require a budget of at least the longest
  prompt instead).

A dense (TP) instance is one engine with one scheduler.  A MoE instance
runs data-parallel attention: in vLLM every DP rank (GPU) is an engine with
its own queue and budget, and the ranks step in lockstep for the expert
all-to-all.  Here an attention host is a scheduler whose budget and
sequence limit are its GPUs' (``gpus_per_host`` times the setting), and
the instance's step joins every host's chunks.

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


class Scheduler:
    """One engine's queue (placements in arrival order) and budget."""

    def __init__(self, placements, budget, max_seqs, chunked):
        self.waiting = deque(placements)
        self.budget, self.max_seqs, self.chunked = budget, max_seqs, chunked
        self.partial = None                # (placement, tokens done, chunks done)

    def __bool__(self):
        return bool(self.waiting) or self.partial is not None

    def first_arrival(self):
        """When its next step could start at the earliest (None: nothing left)."""
        if self.partial:
            return self.partial[0].request.arrival_us
        return self.waiting[0].request.arrival_us if self.waiting else None

    def take(self, start_us):
        """The chunks of a step starting at ``start_us``."""
        budget, chunks = self.budget, []
        if self.partial:
            placement, done, count = self.partial
            take = min(placement.new_tokens - done, budget)
            chunks.append(Chunk(placement, take, done, count))
            budget -= take
            self.partial = None if done + take >= placement.new_tokens else (
                placement, done + take, count + 1)
        skipped = []
        while (self.waiting and self.partial is None and len(chunks) < self.max_seqs
               and self.waiting[0].request.arrival_us <= start_us):
            placement = self.waiting.popleft()
            need = placement.new_tokens
            if need <= budget or (not chunks and not skipped and need > self.budget
                                  and not self.chunked):
                take = need                        # fits (or runs alone, whole)
            elif self.chunked and budget > 0:
                take = budget
                self.partial = (placement, take, 1)
            elif self.chunked:
                self.waiting.appendleft(placement)     # the budget is spent
                break
            else:
                skipped.append(placement)          # waits for a later step
                continue
            chunks.append(Chunk(placement, take, 0, 0))
            budget -= take
        self.waiting.extendleft(reversed(skipped))
        return chunks


class StepPlanner:
    """Forms one instance's steps from its schedulers, stepping in lockstep."""

    def __init__(self, schedulers):
        self.schedulers = schedulers

    def __bool__(self):
        return any(self.schedulers)

    def next_step(self, free_at_us):
        """(start time, [Chunk]) of the next step, the instance being free at ``free_at_us``."""
        first = min(a for a in (s.first_arrival() for s in self.schedulers) if a is not None)
        start = max(free_at_us, first)
        return start, [c for s in self.schedulers for c in s.take(start)]
