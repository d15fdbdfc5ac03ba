"""A small communication trace synthesized from a public request trace.

Reads the Azure 2023 code trace (prompt and output lengths, arrival times),
keeps its first 8 requests with arrivals 200x faster, and synthesizes the
communication DAG of Mixtral-8x7B (4 layers) prefilled on the 8-server
deployment: KV-cache fetches, per-layer all-to-alls, P2D transfers.

    python examples/synthesize_trace.py [AZURE_CSV] [OUT]
"""

import os
import sys

from traces import load_deployment, load_model, scale_rate, subsample, synthesize, write_trace
from traces.importers.azure import read_azure

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
AZURE = os.path.join(REPO, "..", "shared", "traces", "azure_llm_2023_code.csv")


def main(azure_csv=AZURE, out="azure_small.jsonl"):
    requests = scale_rate(subsample(read_azure(azure_csv), max_requests=8), 200)
    model = load_model("mixtral-8x7b", 4)
    deployment = load_deployment(os.path.join(REPO, "traces", "deployments", "single_tor_8.yaml"))
    trace = synthesize(requests, model, deployment, seed=0, source="examples/synthesize_trace.py")
    write_trace(trace, out)
    flows = trace.flows()
    print(f"wrote {out}: {len(trace.requests)} requests, {len(flows)} flows, "
          f"{sum(f.bytes for f in flows) / 1e6:.1f} MB")
    return trace


if __name__ == "__main__":
    main(*sys.argv[1:])
