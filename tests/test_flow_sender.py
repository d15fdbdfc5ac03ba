"""A sender's demotion plan as decisions replace it: thresholds scale like the
flow's size, ones already written past fire at once, and a TCP sender waiting
for the old threshold stops waiting.  Real sockets on loopback; the agent
around the sender is a stand-in holding only what the sender reads of it."""

import socket
from types import SimpleNamespace

import pytest

from emulator.agent.host_agent import HostAgent
from emulator.agent.transfers import TCP_NOTSENT_LOWAT, TcpSender


class StandInAgent:
    host, ip = "h1", "127.0.0.1"
    rate_scale = 1.0
    refill_bytes = 65536
    dilation_bytes = HostAgent.dilation_bytes

    def __init__(self, byte_scale):
        self.byte_scale = byte_scale
        self.config = SimpleNamespace(provisional_tos=0)
        self.notices = []

    def sender_demoted(self, flow_id, queue, now):
        self.notices.append((flow_id, queue))


@pytest.fixture
def sender_of():
    made = []

    def make(size, byte_scale=1.0):
        agent = StandInAgent(byte_scale)
        sender = TcpSender(agent, SimpleNamespace(id="f", bytes=size, sport=0, dst="h2"))
        sender.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        made.append(sender.sock)
        return sender, agent

    yield make
    for sock in made:
        sock.close()


def tos(sender):
    return sender.sock.getsockopt(socket.IPPROTO_IP, socket.IP_TOS)


def test_thresholds_scale_and_round_as_the_flow_size_does(sender_of):
    sender, _ = sender_of(10_000, byte_scale=10.0)
    assert sender.emu_bytes == 1000
    sender.apply(0, 0, None, "initial", 1.0, demote_at=[[14, 1, 4], [2_995, 2, 8], [10_000, 3, 12]])
    # 14 / 10 rounds to 1 like every size does (ceil gave 2); the flow's end is never crossed
    assert [step[0] for step in sender.plan] == [1, 300]


def test_thresholds_already_written_past_demote_at_once_in_order(sender_of):
    sender, agent = sender_of(1000)
    sender.written = 500
    sender.apply(0, 0, None, "initial", 1.0, demote_at=[[100, 1, 4], [300, 2, 8], [800, 3, 12]])
    assert agent.notices == [("f", 1), ("f", 2)]
    assert tos(sender) == 8 and sender.plan == [(800, 3, 12)]
    assert [q[1:3] for q in sender.queues] == [(0, "initial"), (1, "demotion"), (2, "demotion")]


def test_a_new_plan_ends_the_wait_for_the_old_threshold(sender_of):
    sender, _ = sender_of(1000)
    sender.sock.setsockopt(socket.IPPROTO_TCP, TCP_NOTSENT_LOWAT, 1)
    sender._draining = True            # written up to a threshold, waiting for it to leave
    sender.apply(2, 8, None, "promotion", 1.0, demote_at=[])
    assert not sender._draining and sender.plan == []
    assert sender.sock.getsockopt(socket.IPPROTO_TCP, TCP_NOTSENT_LOWAT) == 65536
