"""run_emulation.py subcommands of the emulator: selftest, topology, default."""

import os
import sys
import time

from common.errors import UserError
from common.units import parse_rate

RESULTS_DIR = "results"


def add_fabric_options(parser):
    """Options every command that builds a fabric shares."""
    parser.add_argument("--topology", default=None,
                        help="topology file or name in topologies/ (default: single_tor_8)")
    parser.add_argument("--emulated-rate", default="100Mbps",
                        help="emulated rate of the topology's fastest link (default 100Mbps)")
    scale = parser.add_mutually_exclusive_group()
    scale.add_argument("--time-dilation", type=float, default=None,
                       help="emulated seconds per real second (sets the byte scale)")
    scale.add_argument("--byte-scale", type=float, default=None,
                       help="real bytes per emulated byte (default 1)")


def fabric_from_args(args):
    """(topology, dilation) from the shared options."""
    from emulator.dilation import Dilation
    from emulator.topology import load_topology

    topology = load_topology(args.topology)
    rate = parse_rate(args.emulated_rate, "--emulated-rate")
    dilation = Dilation.for_topology(topology, rate, args.time_dilation, args.byte_scale)
    return topology, dilation


def require_root(what):
    if os.geteuid() != 0:
        raise UserError(what, "needs root to build network namespaces and switches (use sudo)")


def default_out_dir(kind):
    return os.path.join(RESULTS_DIR, time.strftime(f"%Y%m%d-%H%M%S-{kind}"))


def cmd_selftest(args):
    from mininet.log import setLogLevel

    from emulator.selftest import run_selftest

    topology, dilation = fabric_from_args(args)
    require_root("selftest")
    if args.seconds <= 0:
        raise UserError("--seconds", "must be positive")
    setLogLevel("warning")
    out = args.out or default_out_dir("selftest")
    report = run_selftest(topology, dilation, args.seconds, out)
    return 0 if report["passed"] else 1


def cmd_topology(args):
    from emulator.topology import load_topology

    topology = load_topology(args.file)
    print(f"{topology.path}: {topology.name}: {len(topology.hosts)} hosts, "
          f"{len(topology.switches)} switches, {len(topology.links)} links; OK")
    return 0


def cmd_default(args):
    """What `sudo python run_emulation.py` does with no arguments."""
    args.seconds = 6.0
    return cmd_selftest(args)


def register(subparsers):
    selftest = subparsers.add_parser(
        "selftest", help="build the fabric and measure its fidelity (writes fidelity.json)")
    add_fabric_options(selftest)
    selftest.add_argument("--seconds", type=float, default=6.0,
                          help="seconds of traffic per measurement (default 6)")
    selftest.add_argument("--out", default=None, help="results directory")
    selftest.set_defaults(func=cmd_selftest)

    topo = subparsers.add_parser("topology", help="validate a topology file")
    topo.add_argument("file")
    topo.set_defaults(func=cmd_topology)

    default = subparsers.add_parser("default", help="the default experiment (no arguments)")
    add_fabric_options(default)
    default.add_argument("--out", default=None, help="results directory")
    default.set_defaults(func=cmd_default)
