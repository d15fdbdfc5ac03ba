"""What the ``trace`` subcommands do (parsing is in :mod:`traces.cli`)."""

import json
import os
import re
import shlex
import sys

import yaml

from common.errors import UserError
from common.units import parse_duration, parse_rate
from traces.request_ops import RequestOptions
from traces.storage import check_output, load_trace, trace_format, write_trace
from traces.trace import Trace
from common.safe_files import write_text_atomic

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REQUEST_FORMATS = ("mooncake", "azure", "burstgpt", "vidur", "vllm-bench")


# -- import ----------------------------------------------------------------------
def cmd_import(args):
    trace_format(args.out)                   # reject a bad extension before any work
    check_output(args.out, *args.inputs)
    if args.format in REQUEST_FORMATS:
        trace, notes = _import_requests(args)
    else:
        trace, notes = _import_capture(args)
    trace.meta.setdefault("importer", args.format)
    write_trace(trace, args.out)
    flows = len(trace.flows())
    what = _plural(len(trace.requests), "request")
    if trace.nodes:
        what += f", {_plural(len(trace.nodes), 'node')} ({_plural(flows, 'flow')})"
    print(f"wrote {args.out}: {what}")
    for note, count in notes.items():
        print(f"  {note}: {count}")
    return 0


def _import_requests(args):
    if len(args.inputs) != 1:
        raise UserError("import", f"{args.format} takes one input file")
    path = args.inputs[0]
    notes = {}
    if args.format == "mooncake":
        from traces.importers.mooncake import read_mooncake
        requests = read_mooncake(path, _jitter(args.jitter), args.seed)
    elif args.format == "azure":
        from traces.importers.azure import read_azure
        requests = read_azure(path)
    elif args.format == "burstgpt":
        from traces.importers.burstgpt import read_burstgpt
        requests, failed = read_burstgpt(path)
        notes["skipped failed rows (zero response tokens)"] = failed
    elif args.format == "vllm-bench":
        from traces.importers.vllm_bench import read_vllm_bench
        requests, notes = read_vllm_bench(path)
    else:
        from traces.importers.vidur import read_vidur
        requests = read_vidur(path)
    start, end = _window(args.window)
    options = RequestOptions(window_start_us=start, window_end_us=end, rate_scale=args.rate_scale,
                             sample=args.sample, max_requests=args.max_requests, seed=args.seed)
    kept = options.apply(requests)
    notes["requests read"] = len(requests)
    trace = Trace(requests=kept, source=_command_line(args),
                  meta={"input": os.path.basename(path), "rate_scale": args.rate_scale})
    return trace, notes


def _import_capture(args):
    from traces.capture.host_maps import NameHostMap, rank_host_map
    intra = parse_rate(args.intra_host_rate, "--intra-host-rate")
    capture_bps = parse_rate(args.capture_rate, "--capture-rate") if args.capture_rate else None
    if args.format == "chakra":
        from traces.capture.chakra_import import import_chakra
        host_of = rank_host_map(args.rank_hosts, args.ranks_per_host)
        trace, notes = import_chakra(args.inputs, host_of, intra, args.protocol)
    elif args.format == "nccl-profiler":
        from traces.capture.nccl_profiler import import_nccl_profiler
        host_of = rank_host_map(args.rank_hosts, args.ranks_per_host)
        trace, notes = import_nccl_profiler(args.inputs, host_of, intra, args.protocol)
    elif args.format == "nccl":
        from traces.capture.nccl_log import import_nccl_log
        trace, notes = import_nccl_log(args.inputs, NameHostMap(args.host_map), intra,
                                       args.protocol)
    else:
        from traces.capture.pcap_import import import_pcap
        if len(args.inputs) != 1:
            raise UserError("import", "pcap takes one capture file")
        gap = parse_duration(args.idle_gap, "--idle-gap") if args.idle_gap else None
        host_map = NameHostMap(args.host_map, strict=True)
        trace, notes = import_pcap(args.inputs[0], host_map, gap)
        notes = dict(notes, **{"address map": ", ".join(f"{a}={h}" for a, h in
                                                        host_map.mapping.items())})
    if capture_bps:
        trace.nic_bps = {"default": capture_bps}
    trace.source = _command_line(args)
    return trace, notes


def _jitter(text):
    if text in (None, "none"):
        return None
    if text == "auto":
        return "auto"
    return parse_duration(text, "--jitter") * 1e6


def _window(text):
    if not text:
        return None, None
    start, sep, end = text.partition(":")
    if not sep:
        raise UserError("--window", f"expected START:END, e.g. 0s:60s, got {text!r}")
    start_us = parse_duration(start, "--window start") * 1e6 if start.strip() else None
    end_us = parse_duration(end, "--window end") * 1e6 if end.strip() else None
    if start_us is not None and end_us is not None and end_us <= start_us:
        raise UserError("--window", f"end must be after start, got {text!r}")
    return start_us, end_us


# -- synth -----------------------------------------------------------------------
def cmd_synth(args):
    from traces.request_ops import scale_rate, skip_requests, subsample
    from traces.synth.deployment import Batching, load_deployment
    from traces.synth.models import load_model
    from traces.synth.request_generator import generate_requests
    from traces.synth.synthesizer import synthesize

    trace_format(args.out)
    check_output(args.out, args.requests, args.deployment, args.model)
    if args.requests.split(":", 1)[0] == "builtin":
        requests = generate_requests(args.requests)
    else:
        requests = load_trace(args.requests).requests
    if not requests:
        raise UserError(args.requests, "no requests")
    if args.first_request:
        requests = skip_requests(requests, args.first_request)
    if args.max_requests:
        requests = subsample(requests, max_requests=args.max_requests)
    requests = scale_rate(requests, args.rate_scale)
    model = load_model(args.model, args.layers)
    deployment = load_deployment(args.deployment)
    deployment.check_model(model, args.deployment)
    if args.reuse_ratio is not None:
        if not 0 <= args.reuse_ratio <= 1:
            raise UserError("--reuse-ratio", "must be between 0 and 1")
        deployment.kv_cache.reuse_ratio = args.reuse_ratio
    if args.slo_scale is not None and args.slo_scale <= 0:
        raise UserError("--slo-scale", "must be positive")
    if args.batching == "off":
        deployment = deployment.model_copy(update={"batching": None})
    elif args.batching == "on" and deployment.batching is None:
        if deployment.instance_queue != "fcfs":
            raise UserError("--batching", "batching needs the deployment's instance_queue: fcfs")
        deployment = deployment.model_copy(update={"batching": Batching()})
    trace = synthesize(requests, model, deployment, p2d=args.p2d, slo_scale=args.slo_scale,
                       seed=args.seed, source=_command_line(args))
    write_trace(trace, args.out)
    flows = trace.flows()
    print(f"wrote {args.out}: {_plural(len(trace.requests), 'request')}, "
          f"{_plural(len(trace.nodes), 'node')} ({_plural(len(flows), 'flow')}, "
          f"{sum(f.bytes for f in flows) / 1e6:.1f} MB)")
    return 0


# -- validate --------------------------------------------------------------------
def cmd_validate(args):
    hosts = None
    if args.hosts:
        hosts = parse_hosts(args.hosts)
    if args.topology:
        hosts = (hosts or set()) | topology_hosts(args.topology)
    trace = load_trace(args.trace, validate=True, hosts=hosts)
    print(f"ok: {args.trace}: {_plural(len(trace.requests), 'request')}, "
          f"{_plural(len(trace.nodes), 'node')} ({_plural(len(trace.flows()), 'flow')})")
    return 0


_HOST_RANGE = re.compile(r"^([A-Za-z_][\w.-]*?)(\d+)(?:-|\.\.)(?:\1)?(\d+)$")


def parse_hosts(text):
    """``h1-h8``, ``h1..h8`` or ``h1,h2,h5`` -> set of names."""
    hosts = set()
    for item in filter(None, (part.strip() for part in text.split(","))):
        match = _HOST_RANGE.match(item)
        if match:
            prefix, first, last = match.group(1), int(match.group(2)), int(match.group(3))
            if last < first:
                raise UserError("--hosts", f"empty range {item!r}")
            hosts.update(f"{prefix}{i}" for i in range(first, last + 1))
        else:
            hosts.add(item)
    return hosts


def topology_hosts(name):
    """Host names of a topology file (``topologies/<name>.yaml`` or a path)."""
    path = name
    if not os.path.isfile(path):
        path = os.path.join(REPO, "topologies", f"{name}.yaml")
    if not os.path.isfile(path):
        raise UserError("--topology", f"no topology file {name!r} (nor {path})")
    with open(path, encoding="utf-8") as handle:
        try:
            data = yaml.safe_load(handle)
        except yaml.YAMLError as err:
            raise UserError(path, f"malformed YAML: {err}") from None
    hosts = data.get("hosts") if isinstance(data, dict) else None
    if isinstance(hosts, dict):
        hosts = list(hosts)
    if not isinstance(hosts, list) or not hosts:
        raise UserError(path, "no 'hosts' list in the topology")
    return {h if isinstance(h, str) else h.get("name") for h in hosts}


# -- stats -----------------------------------------------------------------------
def cmd_stats(args):
    from traces.stats import format_stats, trace_stats
    trace = load_trace(args.trace)
    rate_of = None
    if args.nic_rate:
        rate = parse_rate(args.nic_rate, "--nic-rate")
        rate_of = lambda host: rate
    stats = trace_stats(trace, rate_of)
    if args.json:
        json.dump(stats, sys.stdout, indent=2)
        print()
    else:
        print(format_stats(stats, args.rows))
    return 0


def _plural(count, word):
    return f"{count} {word}{'' if count == 1 else 's'}"


def _command_line(args):
    """The command that made a trace, for its header (recorded, never run)."""
    words = ["run_emulation.py", "trace", args.trace_command]
    if args.trace_command == "import":
        words += [args.format, *args.inputs]
    skip = {"func", "command", "trace_command", "format", "inputs", "out"}
    for name, value in vars(args).items():
        if name in skip or value is None or value is False:
            continue
        if (name, value) in (("rate_scale", 1.0), ("first_request", 0)):
            continue                         # defaults: the recorded command stays short
        if args.trace_command == "import":
            capture_option = name in _CAPTURE_ONLY
            if capture_option == (args.format in REQUEST_FORMATS):
                continue                     # options the importer does not use
        words += [f"--{name.replace('_', '-')}"] + ([] if value is True else [str(value)])
    words += ["--out", args.out]
    return " ".join(shlex.quote(w) for w in words)


_CAPTURE_ONLY = {"ranks_per_host", "rank_hosts", "host_map", "intra_host_rate", "protocol",
                 "idle_gap", "capture_rate"}


# -- deployment ------------------------------------------------------------------

def cmd_deployment(args):
    from netmodel.topology import load_topology
    from traces.synth.deployment import generate_deployment

    topology = load_topology(args.topology)
    check_output(args.out, args.topology)
    name = os.path.splitext(os.path.basename(args.out))[0]
    from collections import Counter
    from common.units import format_rate
    # the deployment's NICs are the topology's host links: the most common
    # rate, and host_nic_rates for the hosts whose link differs
    link = {h.name: topology.host_link(h.name).rate_bps for h in topology.hosts}
    common = Counter(link.values()).most_common(1)[0][0]
    data = generate_deployment([h.name for h in topology.hosts], args.prefill_instances,
                               args.degree, args.decode_hosts, args.cache_hosts, args.parallelism,
                               name=name, gpus_per_host=args.gpus_per_host,
                               nic_rate=format_rate(common))
    others = {host: format_rate(rate) for host, rate in link.items() if rate != common}
    if others:
        data["host_nic_rates"] = others
    header = f"# Generated by: run_emulation.py trace deployment --topology {args.topology} ...\n"
    write_text_atomic(args.out, header + yaml.safe_dump(data, sort_keys=False,
                                                        default_flow_style=None, width=100))
    gpus = f" x {args.gpus_per_host} GPUs" if args.gpus_per_host > 1 else ""
    print(f"wrote {args.out}: {args.prefill_instances} prefill instances x {args.degree} hosts{gpus} "
          f"({args.parallelism} {args.degree * args.gpus_per_host}), "
          f"{len(data['decode_hosts'])} decode hosts, "
          f"{len(data['kv_cache']['hosts'])} cache holders")
    return 0
