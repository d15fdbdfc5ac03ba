"""Subcommands of the controller package for run_emulation.py.

    run_emulation.py policies                  # the scheduling policies, one a line
    run_emulation.py policies --config my.yaml # ... after validating a parameter file
"""


def register(subparsers):
    """Add this package's subcommands to run_emulation.py's parser."""
    parser = subparsers.add_parser(
        "policies", help="list the flow scheduling policies",
        description="List the registered flow scheduling policies, one line each.")
    parser.add_argument("--config", metavar="YAML",
                        help="also validate this policy parameter file")
    parser.set_defaults(func=list_policies)


def list_policies(args):
    # Imported here so that building the parser does not load every policy.
    from policies import policy_classes, read_policy_config

    if getattr(args, "config", None):
        read_policy_config(args.config)
    classes = policy_classes()
    width = max(len(name) for name in classes)
    for name, cls in classes.items():
        print(f"{name:<{width}}  {cls.description}")
    return 0
