"""The strict-priority queue plan of one egress port, and the DSCP mapping.

Every contended egress (each switch port and each host NIC) gets the same
structure, built with HTB because this kernel has no ``prio`` qdisc::

    htb 1: (default -> Q0)
     └─ class 1:1   rate = ceil = link rate            (the port)
         ├─ class 1:10  prio 0, ceil = link rate -> bfifo   (Q0, highest)
         ├─ class 1:11  prio 1, ceil = link rate -> bfifo   (Q1)
         └─ ...         prio N-1                             (Q N-1, lowest)

Each queue class guarantees only a token ``rate`` (1e-5 of the link, 10
kbit/s at least) and borrows the rest from 1:1; HTB lends spare tokens
strictly in ``prio`` order, which makes the port strict-priority with a tiny
floor per queue.  The floor is not free: a class sends on its own tokens
whatever its priority, so a lower queue's frame can leave before a higher
queue's backlog.  When a flow's later packets sit in a lower queue (PIAS
demoting at the sender) they overtake its earlier ones and TCP takes the
reordering for loss: at a floor of 1/1000 of the link (400 kbit/s, one
64 KB frame every 1.3 s per class) PIAS retransmitted 546 segments in a
run of the 60-request workload, at 10 kbit/s 73 (2026-12-03).  Those 73
were each class's first frame: a new class starts with a full bucket.  So a
class's own bucket holds one byte, and the fabric spends it with one frame
per class before the run (``emulator.tc.spend_initial_tokens``); a frame at
the floor rate is 51 s of tokens, after which (HTB caps a deficit at 60 s)
a class may again send one frame on its own.
Each leaf is a ``bfifo`` holding the port's buffer, so drops happen at the
modelled queue and nowhere else.

Packets are classified by the IP precedence bits (the top three DSCP bits)
with u32 filters: queue ``q`` of ``N`` is marked with class selector
``CS(N-1-q)``, so unmarked traffic (DSCP 0) lands in the lowest queue and
``CS7`` in Q0.  Small IP packets (total length < 128 bytes: TCP ACKs, SYNs)
and non-IP frames (ARP) go to Q0, as datacenter switches prioritise ACKs and
control frames; otherwise the ACKs of a high-priority flow would queue
behind low-priority data going the other way.
"""

from dataclasses import dataclass

L2_HEADER = 14          # Ethernet header bytes HTB counts on top of the MTU
SMALL_PACKET = 128      # IP total length under which a packet goes to Q0
ROOT_HANDLE = 0x10000   # 1:
PORT_CLASS = 0x10001    # 1:1
FLOOR_FRACTION = 1e-5   # guaranteed share of each queue class (see plan_port)


def queue_classid(queue):
    """HTB class id (1:10 + queue) of a queue."""
    return ROOT_HANDLE | (0x10 + queue)


def dscp_for_queue(queue, num_queues):
    """DSCP codepoint (0-63) that selects ``queue`` (class selector CS(N-1-q))."""
    if not 0 <= queue < num_queues:
        raise ValueError(f"queue {queue} out of range 0..{num_queues - 1}")
    return (num_queues - 1 - queue) << 3


def tos_for_queue(queue, num_queues):
    """The IP TOS byte (DSCP << 2) a sender sets with IP_TOS for ``queue``."""
    return dscp_for_queue(queue, num_queues) << 2


def queue_for_dscp(dscp, num_queues):
    """Queue a packet with this DSCP lands in (precedence above N-1 -> Q0)."""
    precedence = (dscp >> 3) & 0x7
    return max(0, num_queues - 1 - precedence)


@dataclass(frozen=True)
class QueueClass:
    queue: int
    classid: int
    htb_prio: int
    rate_bps: float
    ceil_bps: float
    limit_bytes: int

    @property
    def leaf_handle(self):
        return (0x10 + self.queue) << 16


@dataclass(frozen=True)
class U32Filter:
    pref: int
    keys: tuple       # pyroute2 u32 keys "value/mask+offset" (offset from the IP header)
    classid: int
    why: str


@dataclass(frozen=True)
class PortPlan:
    rate_bps: float
    mtu: int
    num_queues: int
    buffer_bytes: int
    classes: tuple
    filters: tuple

    @property
    def default_classid(self):
        return queue_classid(0)

    @property
    def quantum(self):
        return self.mtu + L2_HEADER


def plan_port(rate_bps, buffer_bytes, num_queues, mtu):
    """The HTB classes and u32 filters of one egress port (emulated units)."""
    frame = mtu + L2_HEADER
    limit = max(int(buffer_bytes), 2 * frame)
    floor = max(rate_bps * FLOOR_FRACTION, 10000.0)
    classes = tuple(QueueClass(q, queue_classid(q), q, floor, rate_bps, limit)
                    for q in range(num_queues))
    filters = [U32Filter(1, ("0x00000000/0x0000ff80+0",), queue_classid(0),
                         "IP packets shorter than 128 bytes (ACKs, SYNs) -> Q0")]
    for precedence in range(8):
        queue = queue_for_dscp(precedence << 3, num_queues)
        # word 0 of the IP header is version/IHL, TOS, total length
        filters.append(U32Filter(10 + precedence, (f"0x{precedence << 21:08x}/0x00e00000+0",),
                                 queue_classid(queue), f"IP precedence {precedence} -> Q{queue}"))
    return PortPlan(rate_bps, mtu, num_queues, limit, classes, tuple(filters))
