"""Subcommands of the controller package for run_emulation.py.

    run_emulation.py policies                  # the scheduling policies, one a line
    run_emulation.py policies --config my.yaml # ... after validating a parameter file
    run_emulation.py bench [--flows N]         # controller decision-to-rule benchmark
"""


def register(subparsers):
    """Add this package's subcommands to run_emulation.py's parser."""
    parser = subparsers.add_parser(
        "policies", help="list the flow scheduling policies",
        description="List the registered flow scheduling policies, one line each.")
    parser.add_argument("--config", metavar="YAML",
                        help="also validate this policy parameter file")
    parser.set_defaults(func=list_policies)

    from emulator.cli import add_fabric_options
    bench = subparsers.add_parser(
        "bench", help="benchmark the controller: decision-to-rule latency, rule changes per second")
    add_fabric_options(bench)
    bench.add_argument("--flows", type=int, default=2000, help="flows to register (default 2000)")
    bench.add_argument("--out", default=None, help="results directory")
    bench.set_defaults(func=run_bench_command)


def run_bench_command(args):
    from mininet.log import setLogLevel

    from common.errors import UserError
    from controller.bench import run_bench
    from emulator.cli import default_out_dir, fabric_from_args, require_root

    topology, dilation = fabric_from_args(args)
    if args.flows < 1:
        raise UserError("--flows", "must be at least 1")
    require_root("bench")
    setLogLevel("warning")
    run_bench(topology, dilation, args.out or default_out_dir("bench"), flows=args.flows)
    return 0


def list_policies(args):
    # Imported here so that building the parser does not load every policy.
    from controller.policies import policy_classes, read_policy_config

    if getattr(args, "config", None):
        read_policy_config(args.config)
    classes = policy_classes()
    width = max(len(name) for name in classes)
    for name, cls in classes.items():
        print(f"{name:<{width}}  {cls.description}")
    return 0
