"""The host agent: one process per emulated host, inside its network namespace.

It executes its share of the trace DAG (compute nodes as dilated timed
waits, flow nodes as real kernel TCP transfers registered with the
controller), receives the flows other hosts send it, and signals node
completions to the orchestrator's hub over a Unix socket that never crosses
the emulated data network.  ``python -m emulator.agent CONFIG.json``.
"""
