"""Which prompt tokens hit a prefix cache, and on which host they are held.

With Mooncake ``hash_ids`` (one id per block of ``block_tokens`` prompt
tokens), a request hits the longest run of leading blocks seen in earlier
requests; after it, all its blocks are cached.  Without them, a fixed
``reuse_ratio`` of each prompt (whole blocks) hits.  Blocks live on the
deployment's ``kv_cache.hosts`` (block id modulo the number of holders, so
one holder is a hot spot).  At least one prompt token is always computed.
"""

from collections import Counter

import numpy as np


class PrefixCache:
    def __init__(self, kv_cache, seed=0):
        self.holders = list(kv_cache.hosts)
        self.block_tokens = kv_cache.block_tokens
        self.reuse_ratio = kv_cache.reuse_ratio
        self.seen = set()
        self.rng = np.random.default_rng(seed)

    def lookup(self, request):
        """``[(holder host, cached tokens)]`` for ``request``; then cache its blocks."""
        if not self.holders or request.input_tokens < 2:
            self._remember(request)
            return []
        limit = request.input_tokens - 1
        if request.hash_ids is not None:
            blocks = []
            for block in request.hash_ids:
                if block not in self.seen:
                    break
                blocks.append(block)
        else:
            hit_blocks = int(self.reuse_ratio * request.input_tokens) // self.block_tokens
            start = int(self.rng.integers(len(self.holders)))
            blocks = [start + i for i in range(hit_blocks)]
        tokens = Counter()
        remaining = limit
        for block in blocks:
            take = min(self.block_tokens, remaining)
            if take <= 0:
                break
            tokens[self.holders[block % len(self.holders)]] += take
            remaining -= take
        self._remember(request)
        return sorted(tokens.items())

    def _remember(self, request):
        self.seen.update(request.hash_ids or ())
