"""Run host agents.

``python -m emulator.agent CONFIG.json``: one replay's agent, then exit.

``python -m emulator.agent --serve``: one replay after another in this
process, as the orchestrator asks: it writes a JSON line on stdin,
``{"config": path, "log": path}``; the agent sends its output to that log
first (so an error in reading the configuration lands there), runs the
replay and answers ``done`` on stdout once its records are written.
Replays that share a fabric skip starting a Python process per host each
time (0.8 s of eight processes importing on two cores).  A replay
that raises ends the process (the orchestrator fails its nodes and starts a
new one for the next replay); so does the end of stdin.
"""

import gc
import json
import os
import sys

from emulator.agent.config import AgentConfig
from emulator.agent.host_agent import HostAgent


def _config(path):
    with open(path, encoding="utf-8") as handle:
        return AgentConfig.model_validate_json(handle.read())


def serve(commands, answers):
    for line in commands:
        request = json.loads(line)
        log = os.open(request["log"], os.O_WRONLY | os.O_APPEND | os.O_NOFOLLOW)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.close(log)
        agent = HostAgent(_config(request["config"]))
        try:
            agent.run()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
        agent.close()
        del agent
        gc.collect()          # what the run's reference cycles still hold, before the next bind
        answers.write(b"done\n")
        answers.flush()
    return 0


def main(argv):
    if argv == ["--serve"]:
        answers = os.fdopen(os.dup(1), "wb")      # stdout itself becomes each run's log
        return serve(sys.stdin, answers)
    HostAgent(_config(argv[0])).run()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
