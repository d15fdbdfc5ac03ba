"""run_emulation.py subcommands of the emulator: selftest, topology, default."""

import argparse
import os
import sys
import time
from pathlib import Path

from common.errors import UserError
from common.units import parse_rate
from experiments.executor import add_executor_options

RESULTS_DIR = "results"


def add_fabric_options(parser):
    """Options every command that builds a fabric shares."""
    from experiments.calibration import DEFAULT_MTU

    parser.add_argument("--topology", default=None,
                        help="topology file or name in topologies/ (default: single_tor_8)")
    parser.add_argument("--emulated-rate", default="auto",
                        help="emulated rate of the topology's fastest link (default auto: as fast "
                             "as the fabric carries and the engine's overhead allows)")
    parser.add_argument("--mtu", type=int, default=DEFAULT_MTU,
                        help=f"emulated MTU of every link, 576-64000 (default {DEFAULT_MTU}: "
                             "fewer packets per byte, measured in docs/benchmarks.md)")
    scale = parser.add_mutually_exclusive_group()
    scale.add_argument("--time-dilation", type=float, default=None,
                       help="emulated seconds per real second (sets the byte scale)")
    scale.add_argument("--byte-scale", type=float, default=None,
                       help="real bytes per emulated byte (default 1)")


def speed_options(args):
    """(emulated rate or None for automatic, MTU) from the shared options, validated."""
    from netmodel.topology import MAX_MTU, MIN_MTU

    if not MIN_MTU <= args.mtu <= MAX_MTU:
        raise UserError("--mtu", f"must be between {MIN_MTU} and {MAX_MTU}")
    rate = None if args.emulated_rate == "auto" else parse_rate(args.emulated_rate, "--emulated-rate")
    return rate, args.mtu


def fabric_from_args(args, trace=None):
    """(topology at the emulated MTU, dilation, speed record) from the shared options."""
    from experiments.calibration import choose_speed
    from netmodel.topology import load_topology

    rate, mtu = speed_options(args)
    topology = load_topology(args.topology).with_mtu(mtu)
    dilation, speed = choose_speed(topology, mtu, trace, rate, args.time_dilation, args.byte_scale)
    return topology, dilation, speed


def require_root(what):
    """Root, and the machine's run lock (one fabric run at a time); a note
    when killed runs left things behind."""
    if os.geteuid() != 0:
        raise UserError(what, "needs root to build network namespaces and switches (use sudo)")
    from common import ledger
    from emulator.cleanup import dead_ledgers
    from emulator.fabric import CLEANUP_HINT

    ledger.run_lock()
    left = dead_ledgers()
    if left:
        print(f"note: {len(left)} killed run(s) left things behind; {CLEANUP_HINT}",
              file=sys.stderr)


def cmd_cleanup(args):
    from common import ledger
    from emulator.cleanup import cleanup

    if os.geteuid() != 0:
        raise UserError("cleanup", "needs root (use sudo)")
    ledger.run_lock()       # never under a running run's feet
    cleanup()
    return 0


def default_out_dir(kind):
    return os.path.join(RESULTS_DIR, time.strftime(f"%Y%m%d-%H%M%S-{kind}"))


def cmd_selftest(args):
    from mininet.log import setLogLevel

    if args.backend != "emu":
        raise UserError("--backend", "selftest measures the emulated fabric; it has no sim backend")
    if args.soak:
        return _selftest_soak(args)
    if args.replay:
        return _selftest_replay(args)
    if args.capacity:
        return _selftest_capacity(args)
    from experiments.selftest import run_selftest

    topology, dilation, _ = fabric_from_args(args)
    require_root("selftest")
    if args.seconds <= 0:
        raise UserError("--seconds", "must be positive")
    try:
        counts = [int(v) for v in args.rate_flows.split(",") if v.strip()] if args.rate_flows else []
    except ValueError:
        raise UserError("--rate-flows", f"cannot read {args.rate_flows!r} as flow counts") from None
    if any(n < 1 or n > 64 for n in counts):
        raise UserError("--rate-flows", "flow counts must be between 1 and 64")
    setLogLevel("warning")
    check_new_out(args.out)
    out = args.out or default_out_dir("selftest")
    report = run_selftest(topology, dilation, args.seconds, out, flow_counts=counts)
    return 0 if report["passed"] else 1


def _selftest_soak(args):
    """One long replay with every process of the run sampled (experiments/soak.py)."""
    from mininet.log import setLogLevel

    from experiments.experiment import auto_timeout
    from experiments.soak import run_soak, soak_text
    from netmodel.topology import load_topology
    from traces import load_trace

    schedulers = _schedulers(args.scheduler or "mfs")
    if not os.path.exists(args.trace):
        raise UserError(args.trace, "no such trace file")
    trace = load_trace(args.trace, hosts={h.name for h in load_topology(args.topology).hosts})
    topology, dilation, _ = fabric_from_args(args, trace)
    _check_run_args(args, schedulers, topology)
    require_root("selftest --soak")
    setLogLevel("warning")
    out = args.out or default_out_dir("soak")
    timeout = args.timeout or auto_timeout(trace, topology, dilation)
    print(f"soak: {args.trace} under {schedulers[0]}, {dilation.describe(topology)}")
    report = run_soak(topology, dilation, trace, schedulers[0], out, timeout)
    print(soak_text(report))
    print(f"soak: {out}/soak.json, soak.csv")
    return 0 if report["passed"] and not report["flows_failed"] else 1


def _selftest_replay(args):
    """Dilation invariance: the trace at the automatic dilation and 10x slower (or --dilations)."""
    from mininet.log import setLogLevel

    from experiments.invariance import run_invariance
    from netmodel.topology import load_topology
    from traces import load_trace

    rate, mtu = speed_options(args)
    schedulers = _schedulers(args.scheduler)
    if not os.path.exists(args.trace):
        raise UserError(args.trace, "no such trace file")
    trace = load_trace(args.trace, hosts={h.name for h in load_topology(args.topology).hosts})
    topology, dilation, _ = fabric_from_args(args, trace)
    _check_run_args(args, schedulers, topology)
    if args.dilations:
        try:
            dilations = [float(v) for v in args.dilations.split(",") if v.strip()]
        except ValueError:
            raise UserError("--dilations", f"cannot read {args.dilations!r} as numbers") from None
        if len(dilations) < 2 or min(dilations) <= 0 or len(set(dilations)) < len(dilations):
            raise UserError("--dilations", "give at least two distinct positive dilations "
                                           "(--repeat repeats each)")
    else:
        dilations = [dilation.factor, 10 * dilation.factor]
    require_root("selftest --replay")
    setLogLevel("warning")
    out = args.out or default_out_dir("invariance")
    if args.repeat < 1:
        raise UserError("--repeat", "must be at least 1")
    _, passed = run_invariance(topology, mtu, trace, args.trace, schedulers, dilations, out,
                               repeat=args.repeat, policy_config=args.policy_config,
                               timeout=args.timeout)
    return 0 if passed else 1


def _selftest_capacity(args):
    """Aggregate capacity of single-ToR and leaf-spine fabrics of several sizes."""

    from mininet.log import setLogLevel

    from experiments.capacity import SHAPES, run_capacity

    rate, mtu = speed_options(args)
    try:
        sizes = [int(v) for v in args.capacity.split(",") if v.strip()]
    except ValueError:
        raise UserError("--capacity", f"cannot read {args.capacity!r} as host counts") from None
    if not sizes or any(n < 2 or n > 128 for n in sizes):
        raise UserError("--capacity", "host counts must be between 2 and 128")
    if args.seconds <= 0:
        raise UserError("--seconds", "must be positive")
    require_root("selftest --capacity")
    setLogLevel("warning")
    check_new_out(args.out)
    out = args.out or default_out_dir("capacity")
    rows = run_capacity(sizes, SHAPES, mtu, rate, args.seconds)
    os.makedirs(out, exist_ok=True)
    path = os.path.join(out, "capacity.json")
    from common.safe_files import write_json_atomic
    write_json_atomic(path, {"mtu": mtu, "seconds": args.seconds, "rows": rows})
    print(f"wrote {path}")
    return 0


BACKENDS = {"emu": "emulation", "sim": "fluid"}   # --backend -> run.json's "backend"


def _check_run_args(args, schedulers, topology):
    """What a run is told, checked before anything is built or written: every
    scheduler built once with the run's policy file (a bad file, section or
    parameter is refused here, not inside a running controller), and the
    simulator's start lag."""
    from policies import get_policy

    if args.policy_config is not None and not os.path.isfile(args.policy_config):
        raise UserError(args.policy_config, "no such policy file")
    queues = min(link.queues for link in topology.links)
    for name in schedulers:
        get_policy(name, None, queues, args.policy_config)
    if args.sim_start_lag < 0:
        raise UserError("--sim-start-lag", f"must not be negative, got {args.sim_start_lag:g}")
    check_new_out(args.out)


def check_new_out(out):
    """Results go to a new directory: one that exists and holds anything is refused."""
    if out is not None and os.path.lexists(out) and (
            not os.path.isdir(out) or os.path.islink(out) or os.listdir(out)):
        raise UserError(out, "already exists; results are never written over (choose a new --out)")


def _schedulers(text):
    """The --scheduler list (default: every registered policy), each one known."""
    from policies import default_schedulers, policy_classes

    if text is None:
        return default_schedulers()
    schedulers = [s.strip() for s in text.split(",") if s.strip()]
    if not schedulers:
        raise UserError("--scheduler", "name at least one scheduler")
    unknown = [s for s in schedulers if s not in policy_classes()]
    if unknown:
        raise UserError("--scheduler", f"unknown scheduler {unknown[0]!r} "
                                       f"(known: {', '.join(policy_classes())})")
    return schedulers


def _reference(args):
    """--reference: a registered policy (default mfs); it need not be among the schedulers."""
    from policies import DEFAULT_REFERENCE, policy_classes

    name = args.reference or DEFAULT_REFERENCE
    if name not in policy_classes():
        raise UserError("--reference", f"unknown scheduler {name!r} "
                                       f"(known: {', '.join(policy_classes())})")
    return name


def _generate_parser():
    parser = argparse.ArgumentParser(
        prog="run_emulation.py topology generate",
        description="Write a generated topology file (validated first).")
    kinds = parser.add_subparsers(dest="kind", required=True)
    tree = kinds.add_parser("fat-tree", help="k-ary fat-tree: k^3/4 hosts (k=16: 1,024)")
    tree.add_argument("--k", type=int, required=True)
    leaf = kinds.add_parser("leaf-spine", help="leaves x hosts per leaf, every leaf to every spine")
    leaf.add_argument("--leaves", type=int, required=True)
    leaf.add_argument("--spines", type=int, required=True)
    leaf.add_argument("--hosts-per-leaf", type=int, required=True)
    leaf.add_argument("--oversubscription", type=float, default=1.0,
                      help="hosts' capacity over uplink capacity per leaf (default 1)")
    rail = kinds.add_parser("rail", help="rail-optimized GPU fabric: one host per GPU NIC")
    rail.add_argument("--servers", type=int, required=True)
    rail.add_argument("--gpus-per-server", type=int, default=8)
    rail.add_argument("--servers-per-rail-switch", type=int, default=None)
    rail.add_argument("--spines", type=int, default=None)
    for sub in (tree, leaf, rail):
        sub.add_argument("--rate", default=None, help="host link rate (default 100Gbps; rail 400Gbps)")
        sub.add_argument("--out", required=True, help="topology file to write (.yaml)")
    return parser


def _topology_generate(argv):
    import yaml

    from common.safe_files import write_text_atomic
    from netmodel import generate
    from netmodel.topology import parse_topology

    args = _generate_parser().parse_args(argv)
    rate = {"rate": args.rate} if args.rate else {}
    if args.kind == "fat-tree":
        data = generate.fat_tree(args.k, **rate)
    elif args.kind == "leaf-spine":
        data = generate.leaf_spine(args.leaves, args.spines, args.hosts_per_leaf,
                                   oversubscription=args.oversubscription, **rate)
    else:
        data = generate.rail_optimized(args.servers, args.gpus_per_server,
                                       args.servers_per_rail_switch, args.spines, **rate)
    topology = parse_topology(data, args.out)          # validated before anything is written
    header = f"# Generated by: run_emulation.py topology generate {' '.join(argv)}\n"
    write_text_atomic(args.out, header + yaml.safe_dump(data, sort_keys=False,
                                                        default_flow_style=None, width=100))
    print(f"wrote {args.out}: {topology.name}: {len(topology.hosts)} hosts, "
          f"{len(topology.switches)} switches, {len(topology.links)} links")
    return 0


def cmd_topology(args):
    from netmodel.topology import load_topology

    if args.file == "generate":
        return _topology_generate(args.rest)
    if args.rest:
        raise UserError("topology", f"unexpected arguments: {' '.join(args.rest)}")
    topology = load_topology(args.file)
    print(f"{topology.path}: {topology.name}: {len(topology.hosts)} hosts, "
          f"{len(topology.switches)} switches, {len(topology.links)} links; OK")
    return 0


def cmd_doctor(args):
    """Report (and with --fix, repair) what the fabric needs from this machine."""
    import shutil

    from emulator import ovs

    problems = []
    if os.geteuid() != 0:
        problems.append("not root: building fabrics needs root (use sudo)")
    for tool in ("mnexec", "ovs-vsctl", "ovs-ofctl", "iperf3", "ethtool", "ss"):
        if shutil.which(tool) is None:
            problems.append(f"{tool} not found (run: sudo make setup)")
    if not problems and args.fix:
        print(f"Open vSwitch: {ovs.ensure_vswitchd()}")
    buffers = {name: ovs.read_sysctl(name) for name in ovs.SYSCTLS}
    print("socket buffers: " + ", ".join(f"{k.split('.')[-1]}={v}" for k, v in buffers.items()))
    if min(buffers.values()) < ovs.SOCKET_BUFFER:
        problems.append(f"socket buffers below {ovs.SOCKET_BUFFER} bytes (fix: doctor --fix)")
    pid = ovs.vswitchd_pid()
    print(f"ovs-vswitchd: {'pid %d' % pid if pid else 'not running'}; datapath: "
          f"{'kernel' if ovs.kernel_datapath_available() else 'userspace (no openvswitch module)'}")
    if pid is None:
        problems.append("ovs-vswitchd is not running (fix: doctor --fix)")
    with open("/proc/sys/net/ipv4/tcp_congestion_control", encoding="ascii") as handle:
        print(f"TCP congestion control: {handle.read().strip()}")
    for problem in problems:
        print(f"problem: {problem}", file=sys.stderr)
    return 1 if problems else 0


DEFAULT_TRACE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                             "traces", "default_workload.jsonl")


def cmd_run(args):
    from experiments.experiment import run_experiment
    from netmodel.topology import load_topology
    from traces import load_trace

    speed_options(args)
    schedulers = _schedulers(args.scheduler)
    if not os.path.exists(args.trace):
        raise UserError(args.trace, "no such trace file")
    hosts = {h.name for h in load_topology(args.topology).hosts}
    trace = load_trace(args.trace, hosts=hosts)
    if args.backend == "sim":
        topology, dilation, speed = load_topology(args.topology), None, None
    else:
        topology, dilation, speed = fabric_from_args(args, trace)
    _check_run_args(args, schedulers, topology)
    executor = _executor(args, single_run=args.seeds is None)
    if args.backend != "sim" and executor.runs_here:
        require_root("run")
        from mininet.log import setLogLevel
        setLogLevel("warning")
    out = args.out or default_out_dir("run")
    if args.seeds is not None:
        from experiments.seeds import run_trials
        return run_trials(args, trace, topology, dilation, speed, schedulers, out,
                          backend=BACKENDS[args.backend], reference=_reference(args),
                          executor=executor)
    fidelity = run_experiment(topology, dilation, args.trace, schedulers, out,
                              policy_config=args.policy_config, timeout=args.timeout, trace=trace,
                              speed=speed, reference=_reference(args),
                              backend=BACKENDS[args.backend],
                              sim_start_lag=args.sim_start_lag * 1e-6)
    from analysis.postprocess import postprocess_run
    postprocess_run(out)
    print(f"results: {out}")
    return 0 if all(f["flows_failed"] == 0 for f in fidelity.values()) else 1


def cmd_sweep(args):
    from mininet.log import setLogLevel

    from analysis.sweep import POINTS, parse_values, point_name, run_sweep
    from experiments.sweep_points import sweep_points
    from traces import load_trace

    chosen = [(name, text) for name, text in (("rate", args.rates), ("bandwidth", args.bandwidths),
                                              ("slo_scale", args.slo_scales)) if text]
    if not 1 <= len(chosen) <= 2:
        raise UserError("sweep", "give one of --rates, --bandwidths, --slo-scales, or two of "
                                 "them (with --seeds) for a regime map")
    options = {"rate": "--rates", "bandwidth": "--bandwidths", "slo_scale": "--slo-scales"}
    axes = [(parameter, parse_values(text, options[parameter])) for parameter, text in chosen]
    rate, mtu = speed_options(args)
    topology, _, _ = fabric_from_args(args)
    schedulers = _schedulers(args.scheduler)
    reference = _reference(args)
    trace = load_trace(args.trace, hosts={h.name for h in topology.hosts})
    _check_run_args(args, schedulers, topology)
    if len(axes) == 2 and args.seeds is None:
        raise UserError("sweep", "a two-parameter sweep is a regime map: give --seeds N (N >= 2)")
    executor = _executor(args)
    if args.backend == "emu" and executor.runs_here:
        require_root("sweep")
        setLogLevel("warning")
    if args.seeds is not None:
        from experiments.grid import run_grid
        out = args.out or default_out_dir("regime-" + "-".join(p for p, _ in axes))
        run_grid(args, axes, topology, trace, schedulers, out, rate, mtu,
                 BACKENDS[args.backend], reference, executor=executor)
        return 1 if executor.failed else 0       # which and why: points.json
    parameter, values = axes[0]
    out = args.out or default_out_dir(f"sweep-{parameter}")
    layout = [(value, Path(out) / POINTS / point_name(parameter, value)) for value in values]
    points = sweep_points(parameter, layout, topology, trace, args.trace, schedulers, rate, mtu,
                          args.time_dilation, args.byte_scale, reference=reference,
                          policy_config=args.policy_config, timeout=args.timeout,
                          backend=BACKENDS[args.backend], sim_start_lag=args.sim_start_lag * 1e-6)
    from analysis.report import sweep_headline, write_sweep_report
    from analysis.sweep import load_sweep

    summary = run_sweep(parameter, values, None, out, schedulers, on_summary=write_sweep_report,
                        reference=reference, run_points=lambda _: executor.run(points, out))
    print("\n".join(sweep_headline(summary, load_sweep(out).info)))
    print(f"results: {out}\nreport: {os.path.join(out, 'report.html')}")
    return 1 if executor.failed else 0


def _executor(args, single_run=False):
    """The sweep executor of ``--workers``/``--cluster`` (``single_run``: a
    run without --seeds, which is one point and runs here)."""
    from experiments.executor import executor_from_args

    args.workers, args.cluster = getattr(args, "workers", 1), getattr(args, "cluster", None)
    if single_run and (args.workers != 1 or args.cluster):
        raise UserError("--workers" if args.workers != 1 else "--cluster",
                        "runs the points of a sweep or of run --seeds N; a single run is one point")
    executor = executor_from_args(args)
    executor.check(needs_fabric=args.backend != "sim")
    return executor


def cmd_bench(args):
    from mininet.log import setLogLevel

    from experiments.bench import SECTIONS, run_bench

    topology, dilation, _ = fabric_from_args(args)
    sections = [s.strip() for s in args.sections.split(",") if s.strip()]
    unknown = sorted(set(sections) - set(SECTIONS))
    if unknown or not sections:
        raise UserError("--sections", f"unknown section {', '.join(unknown) or '(none)'} "
                                      f"(known: {', '.join(SECTIONS)})")
    require_root("bench")
    setLogLevel("warning")
    check_new_out(args.out)
    run_bench(topology, dilation, args.out or default_out_dir("bench"), sections)
    return 0


def add_run_options(parser):
    add_fabric_options(parser)
    parser.add_argument("--trace", default=DEFAULT_TRACE, help="trace file (default: the bundled workload)")
    parser.add_argument("--scheduler", default=None,
                        help="comma-separated schedulers (default: every registered policy, "
                             "in policies/policies.yaml's order)")
    parser.add_argument("--backend", choices=sorted(BACKENDS), default="emu",
                        help="emu: the emulated fabric (root); sim: the flow-level simulator "
                             "(default emu)")
    parser.add_argument("--sim-start-lag", type=float, default=0.0, metavar="US",
                        help="sim: real microseconds added to every flow's start, e.g. the "
                             "emulator's measured start lag (default 0)")
    parser.add_argument("--reference", default=None,
                        help="the scheduler the others are compared with in summaries "
                             "(default: mfs)")
    parser.add_argument("--policy-config", default=None, help="YAML of policy parameters")
    parser.add_argument("--timeout", type=float, default=None,
                        help="emulated seconds after which unfinished flows fail (default: 5x "
                             "the trace's end on an idle network, dilated; 600 at least)")
    parser.add_argument("--out", default=None, help="results directory")


def cmd_default(args):
    """What `sudo python run_emulation.py` does with no arguments: the default experiment."""
    return cmd_run(args)


def register(subparsers):
    selftest = subparsers.add_parser(
        "selftest", help="build the fabric and measure its fidelity (writes fidelity.json); "
                         "--replay checks that results do not depend on the dilation")
    add_run_options(selftest)
    selftest.add_argument("--seconds", type=float, default=6.0,
                          help="seconds of traffic per measurement (default 6)")
    selftest.add_argument("--rate-flows", default=None,
                          help="extra flow counts for the rate-accuracy test, e.g. 1,16")
    selftest.add_argument("--capacity", default=None, metavar="N,N,...",
                          help="measure aggregate capacity of single-ToR and leaf-spine fabrics "
                               "of these host counts (one backlogged flow per host)")
    selftest.add_argument("--soak", action="store_true",
                          help="replay --trace once under the first --scheduler (default mfs), "
                               "sampling every process's descriptors, threads and memory "
                               "(soak.json, soak.csv)")
    selftest.add_argument("--replay", action="store_true",
                          help="replay --trace at two dilations and compare the results")
    selftest.add_argument("--dilations", default=None,
                          help="with --replay: comma-separated time dilations (default: the "
                               "automatic one and 10x it)")
    selftest.add_argument("--repeat", type=int, default=1,
                          help="with --replay: runs per dilation (their spread is the noise)")
    selftest.set_defaults(func=cmd_selftest)

    topo = subparsers.add_parser(
        "topology", help="validate a topology file, or generate one (topology generate "
                         "fat-tree|leaf-spine|rail ... --out FILE)")
    topo.add_argument("file", help="topology file to validate, or 'generate'")
    topo.add_argument("rest", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    topo.set_defaults(func=cmd_topology)

    cleanup = subparsers.add_parser(
        "cleanup", help="remove what killed runs left behind (processes, bridges, interfaces, "
                        "directories named in their ledgers), and nothing else")
    cleanup.set_defaults(func=cmd_cleanup)

    doctor = subparsers.add_parser(
        "doctor", help="check what the fabric needs from this machine (--fix repairs it)")
    doctor.add_argument("--fix", action="store_true",
                        help="raise socket buffers and start Open vSwitch if needed")
    doctor.set_defaults(func=cmd_doctor)

    run = subparsers.add_parser(
        "run", help="replay a trace under each scheduler on the emulated fabric")
    add_run_options(run)
    run.add_argument("--seeds", type=int, metavar="N",
                     help="repeated trials: re-draw the trace's 'trace synth' recipe N times "
                          "(trial K: its seeds + K, or the K-th next window of a real request "
                          "trace), run each, and report mean and 95%% confidence intervals "
                          "(seeds.json)")
    add_executor_options(run)
    run.set_defaults(func=cmd_run)

    sweep = subparsers.add_parser(
        "sweep", help="run a trace at several request rates, bandwidths or SLO scales; two of "
                      "them with --seeds: a regime map")
    add_run_options(sweep)
    sweep.add_argument("--rates", help="request-rate factors, e.g. 0.5,1,1.5,2")
    sweep.add_argument("--bandwidths", help="host link rates in Gbit/s, e.g. 25,50,100")
    sweep.add_argument("--slo-scales", help="TTFT SLO factors, e.g. 0.5,1,2")
    sweep.add_argument("--seeds", type=int, metavar="N",
                       help="repeat every point over N draws of the trace's recipe (as run "
                            "--seeds); needed with two parameters, whose grid is drawn as a "
                            "regime map: MFS over the best baseline per cell, with 95%% "
                            "intervals (regime.json, regime.html)")
    add_executor_options(sweep)
    sweep.set_defaults(func=cmd_sweep)

    bench = subparsers.add_parser(
        "bench", help="measure the replay engine: start lag, burst starts, controller latency, "
                      "collective efficiency (writes bench.json)")
    add_fabric_options(bench)
    bench.add_argument("--sections", default="isolated,burst,all_to_all,ring_all_reduce",
                       help="comma-separated sections (default: all)")
    bench.add_argument("--out", default=None, help="results directory")
    bench.set_defaults(func=cmd_bench)

    default = subparsers.add_parser("default", help="the default experiment (no arguments)")
    add_run_options(default)
    default.set_defaults(func=cmd_default, seeds=None)   # cmd_default runs cmd_run
