"""``python -m emulator.agent CONFIG.json``: run one host's agent."""

import sys

from emulator.agent.config import AgentConfig
from emulator.agent.host_agent import HostAgent


def main(argv):
    with open(argv[0], encoding="utf-8") as handle:
        config = AgentConfig.model_validate_json(handle.read())
    HostAgent(config).run()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
