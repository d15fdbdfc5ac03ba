"""``python -m emulator.agent CONFIG.json``: run one host's agent."""

import json
import sys

from emulator.agent.host_agent import HostAgent


def main(argv):
    with open(argv[0], encoding="utf-8") as handle:
        HostAgent(json.load(handle)).run()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
