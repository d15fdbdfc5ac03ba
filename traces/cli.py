"""``run_emulation.py trace import|synth|validate|stats``: the trace tools.

Argument parsing only; the work is in :mod:`traces.commands`.
"""

import argparse

IMPORT_FORMATS = ("mooncake", "azure", "burstgpt", "vidur", "vllm-bench", "chakra", "nccl",
                  "nccl-profiler", "pcap")

EPILOG = """examples:
  run_emulation.py trace import mooncake ../shared/traces/mooncake_synthetic_trace.jsonl \\
      --out /tmp/mooncake.jsonl --window 0s:60s --rate-scale 2
  run_emulation.py trace synth --requests builtin --model mixtral-8x7b --layers 4 \\
      --deployment traces/deployments/single_tor_8.yaml --out /tmp/dag.jsonl
  run_emulation.py trace validate traces/default_workload.jsonl --topology single_tor_8
  run_emulation.py trace stats traces/default_workload.jsonl --json
"""


def _lazy(name):
    def run(args):
        from traces import commands
        return getattr(commands, name)(args)
    return run


def register(subparsers):
    """Add ``trace`` and its subcommands to run_emulation.py's parser."""
    parser = subparsers.add_parser(
        "trace", help="import, synthesize, validate and summarize traces",
        description="Communication-DAG traces: see traces/README.md.", epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="trace_command", metavar="COMMAND", required=True)
    _add_import(commands)
    _add_synth(commands)
    _add_validate(commands)
    _add_stats(commands)
    _add_deployment(commands)


def _add_import(commands):
    p = commands.add_parser(
        "import", help="convert a request trace or a captured trace into our format",
        description="Request traces (mooncake, azure, burstgpt, vidur, vllm-bench) become "
                    "requests; captured traces (chakra, nccl, nccl-profiler, pcap) become a "
                    "communication DAG.")
    p.add_argument("format", choices=IMPORT_FORMATS)
    p.add_argument("inputs", nargs="+", metavar="INPUT",
                   help="input file(s); chakra: files, a directory or the <prefix> of "
                        "<prefix>.<rank>.et")
    p.add_argument("--out", "-o", required=True, help="output trace (.jsonl or .parquet)")
    req = p.add_argument_group("request traces")
    req.add_argument("--window", metavar="START:END",
                     help="keep arrivals in [START, END) after the first request, e.g. 0s:60s")
    req.add_argument("--rate-scale", type=float, default=1.0, metavar="F",
                     help="multiply the request rate by F (arrivals compressed F times)")
    req.add_argument("--sample", type=float, metavar="P",
                     help="keep each request with probability P")
    req.add_argument("--max-requests", type=int, metavar="N", help="keep the first N requests")
    req.add_argument("--seed", type=int, default=0, help="seed for sampling and jitter (default 0)")
    req.add_argument("--jitter", default="none", metavar="none|auto|DURATION",
                     help="mooncake: spread requests over their timestamp bucket "
                          "(auto = smallest gap between timestamps)")
    cap = p.add_argument_group("captured traces")
    cap.add_argument("--ranks-per-host", type=int, default=1, metavar="G",
                     help="chakra, nccl-profiler: rank r runs on host h{r//G+1}, G GPUs per "
                          "server (default 1)")
    cap.add_argument("--rank-hosts", metavar="MAP",
                     help="chakra, nccl-profiler: explicit ranks, e.g. 0-3=h1,4-7=h2")
    cap.add_argument("--host-map", metavar="MAP",
                     help="nccl: hostname=host; pcap: address=host (unlisted pcap addresses are "
                          "skipped); default: h1, h2, ... in order of appearance")
    cap.add_argument("--intra-host-rate", default="900Gbps", metavar="RATE",
                     help="rate of traffic between GPUs of one host, a local delay "
                          "(default 900Gbps)")
    cap.add_argument("--capture-rate", metavar="RATE",
                     help="NIC rate of the captured cluster per emulated host (the sum of "
                          "its ranks' NICs), e.g. 100Gbps: written as the trace's nic_bps, so "
                          "captured timings are compared with the replay at the emulated rate "
                          "(default: unscaled)")
    cap.add_argument("--protocol", choices=("tcp", "udp"), default="tcp",
                     help="transport of chakra/nccl flows (default tcp)")
    cap.add_argument("--idle-gap", metavar="DURATION",
                     help="pcap: split a 5-tuple into flows at idle gaps longer than this")
    p.set_defaults(func=_lazy("cmd_import"))


def _add_synth(commands):
    p = commands.add_parser(
        "synth", help="requests + model + deployment -> communication DAG",
        description="Build KV-fetch, collective and P2D flows and compute nodes for each request.")
    p.add_argument("--requests", required=True, metavar="TRACE|builtin[:K=V,...]",
                   help="a trace with requests (e.g. from 'trace import'), or the built-in "
                        "generator")
    p.add_argument("--model", required=True, help="built-in model name or a model YAML file")
    p.add_argument("--deployment", required=True, help="deployment YAML")
    p.add_argument("--out", "-o", required=True, help="output trace (.jsonl or .parquet)")
    p.add_argument("--layers", type=int, metavar="N",
                   help="keep only the first N layers (smaller emulations)")
    p.add_argument("--p2d", choices=("layerwise", "bulk"),
                   help="override the deployment's P2D mode")
    p.add_argument("--slo-scale", type=float, metavar="X",
                   help="TTFT SLO = X times the isolated TTFT (default: the deployment's)")
    p.add_argument("--batching", choices=("on", "off"),
                   help="override the deployment's batching: on (its batching, or vLLM's "
                        "defaults if it has none) or off (one request per forward pass)")
    p.add_argument("--reuse-ratio", type=float, metavar="R",
                   help="prefix-cache hit share for requests without hash_ids")
    p.add_argument("--rate-scale", type=float, default=1.0, metavar="F",
                   help="multiply the request rate by F before building")
    p.add_argument("--max-requests", type=int, metavar="N", help="use the first N requests")
    p.add_argument("--first-request", type=int, default=0, metavar="K",
                   help="skip the first K requests (in arrival order) before --max-requests; "
                        "arrivals then start at 0 (default 0)")
    p.add_argument("--seed", type=int, default=0, help="seed for cache placement (default 0)")
    p.set_defaults(func=_lazy("cmd_synth"))


def _add_validate(commands):
    p = commands.add_parser("validate", help="check a trace; one line per problem, non-zero exit")
    p.add_argument("trace")
    p.add_argument("--hosts", metavar="LIST", help="known hosts, e.g. h1-h8 or h1,h2,h3")
    p.add_argument("--topology", metavar="NAME|FILE",
                   help="take the known hosts from a topology (e.g. single_tor_8)")
    p.set_defaults(func=_lazy("cmd_validate"))


def _add_stats(commands):
    p = commands.add_parser("stats", help="sizes, compute time, span and network share of TTFT")
    p.add_argument("trace")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--nic-rate", metavar="RATE",
                   help="NIC rate for isolated TTFT (default: the trace header's, else 100Gbps)")
    p.add_argument("--rows", type=int, default=20, help="per-request rows in text output")
    p.set_defaults(func=_lazy("cmd_stats"))


def _add_deployment(commands):
    p = commands.add_parser(
        "deployment", help="write a deployment for a (generated) topology",
        description="Prefill instances on consecutive hosts of the topology, then decode hosts, "
                    "then prefix-cache holders.")
    p.add_argument("--topology", required=True, help="topology name or file")
    p.add_argument("--prefill-instances", type=int, required=True)
    p.add_argument("--degree", type=int, required=True, help="hosts per prefill instance")
    p.add_argument("--gpus-per-host", type=int, default=1,
                   help="GPUs in each host (default 1); an instance's EP/TP degree is "
                        "hosts x GPUs, and traffic between GPUs of one host stays in it")
    p.add_argument("--parallelism", choices=("ep", "tp"), default="ep",
                   help="ep: MoE expert parallelism; tp: dense tensor parallelism (default ep)")
    p.add_argument("--decode-hosts", type=int, help="default: one per prefill instance")
    p.add_argument("--cache-hosts", type=int, default=1, help="prefix-cache holders (default 1)")
    p.add_argument("--out", "-o", required=True, help="deployment YAML to write")
    p.set_defaults(func=_lazy("cmd_deployment"))
