#!/usr/bin/env bash
# Installs what the testbed needs, only what is missing (idempotent; seconds
# when everything is present): distribution packages, Open vSwitch running
# with large socket buffers, and the project in .venv.
# Called by `make setup` (and so by `make run` and `make test`), as root.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then
  echo "error: setup needs root: run 'sudo make setup'" >&2
  exit 1
fi

# Mininet from the distribution (the PyPI 'mininet' is a 2020 dev release
# without mnexec); net-tools because Mininet configures hosts with ifconfig.
PACKAGES=(mininet openvswitch-switch iperf3 ethtool iproute2 iputils-ping net-tools
          python3-venv python3-pip procps)
# A browser so the report test can open report.html headless: Debian's
# chromium deb; Ubuntu ships Chromium only as a snap, so there we use a
# Chrome that is already installed (GitHub's Ubuntu runners have one).
if ! command -v chromium >/dev/null && ! command -v google-chrome >/dev/null; then
  . /etc/os-release
  if [ "${ID:-}" = "debian" ]; then
    PACKAGES+=(chromium)
  else
    echo "setup: no chromium or google-chrome found; the report's browser test will skip" >&2
  fi
fi
missing=()
for pkg in "${PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
  [ "$status" = "install ok installed" ] || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Virtual environment from the distribution's Python so it sees Mininet.
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv"
  /usr/bin/python3 -m venv --system-site-packages .venv
fi
if [ ! -f .venv/.installed ] || [ pyproject.toml -nt .venv/.installed ]; then
  echo "setup: installing the project and its Python dependencies into .venv"
  .venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test]'
  touch .venv/.installed
fi

# Socket buffers before Open vSwitch sends its first packet, then OVS itself.
.venv/bin/python run_emulation.py doctor --fix
