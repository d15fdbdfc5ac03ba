"""Shared fixtures.  Root integration tests are marked ``root``.

They skip, with the reason, where root, Mininet or Open vSwitch is missing;
under CI (``CI=true``) a missing prerequisite fails them instead, so CI can
never go green on skipped integration tests.
"""

import os
import shutil

import pytest


def _missing_root_prerequisite():
    if os.geteuid() != 0:
        return "needs root (run: sudo make test)"
    try:
        import mininet.net  # noqa: F401
    except ImportError:
        return "Mininet is not installed (run: sudo make setup)"
    for tool in ("mnexec", "ovs-vsctl", "iperf3", "ethtool"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (run: sudo make setup)"
    return None


@pytest.fixture(scope="session")
def root_env():
    """Gate for root integration tests; also makes sure OVS is up."""
    reason = _missing_root_prerequisite()
    if reason:
        if os.environ.get("CI") == "true":
            pytest.fail(f"root integration test cannot run in CI: {reason}")
        pytest.skip(reason)
    from emulator import ovs
    ovs.ensure_vswitchd()
    from mininet.log import setLogLevel
    setLogLevel("warning")
    return True
