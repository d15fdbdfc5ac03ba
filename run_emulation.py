#!/usr/bin/env python3
"""Entry point of the LLM-serving network emulation testbed.

    sudo python run_emulation.py                 # the default experiment
    sudo python run_emulation.py selftest        # fabric fidelity check
    python run_emulation.py --help               # every subcommand

Run with any interpreter: when the project's ``.venv`` exists and this is not
it, the script re-executes itself inside it (Mininet comes from the
distribution, the rest from ``.venv``).  Each package contributes its own
subcommands through ``<package>/cli.py:register(subparsers)``.
"""

import argparse
import importlib
import os
import signal
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
VENV = os.path.join(HERE, ".venv")
COMMAND_MODULES = ("experiments.cli", "experiments.bench_sweep", "policies.cli", "traces.cli",
                   "analysis.cli")


def _reexec_in_venv():
    python = os.path.join(VENV, "bin", "python")
    inside = os.path.realpath(sys.prefix) == os.path.realpath(VENV)
    if inside or not os.path.exists(python) or os.environ.get("EMU_NO_REEXEC"):
        return
    os.execv(python, [python, os.path.abspath(__file__), *sys.argv[1:]])


def build_parser():
    parser = argparse.ArgumentParser(
        prog="run_emulation.py",
        description="Trace-driven emulation of network flow scheduling in LLM serving.")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def install_signal_handlers():
    """SIGTERM unwinds like Ctrl-C so every fabric removes what it created;
    only in this process, not in a forked copy that inherited the handler.

    Python runs a signal handler wherever the main thread is, and an
    exception raised inside a ``__del__`` or a garbage-collection callback is
    printed and dropped, not raised ("Exception ignored in ..."): a signal
    that lands there would be lost and the run would go on.  Such a dropped
    SystemExit or KeyboardInterrupt sends the signal again, once, a moment
    later (from a helper thread, so not inside this hook, where it would be
    dropped for good), to be raised at the next point that can raise it.
    """
    import threading
    main_pid = os.getpid()

    def on_sigterm(signum, frame):
        if os.getpid() == main_pid:
            sys.exit(128 + signum)
        os._exit(128 + signum)

    default_hook = sys.unraisablehook

    def on_unraisable(info):
        default_hook(info)
        if os.getpid() != main_pid:
            return
        again = None
        if isinstance(info.exc_value, SystemExit) and info.exc_value.code == 128 + signal.SIGTERM:
            again = signal.SIGTERM
        elif isinstance(info.exc_value, KeyboardInterrupt):
            again = signal.SIGINT
        if again is not None:
            resend = threading.Timer(0.1, os.kill, (main_pid, again))
            resend.daemon = True
            resend.start()

    signal.signal(signal.SIGTERM, on_sigterm)
    sys.unraisablehook = on_unraisable


def main(argv=None):
    _reexec_in_venv()
    sys.path.insert(0, HERE)
    from common.errors import UserError

    install_signal_handlers()
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        args = parser.parse_args(["default"] + (argv or []))
    try:
        return args.func(args) or 0
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # e.g. `trace stats ... | head`: the reader left; say nothing more.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
