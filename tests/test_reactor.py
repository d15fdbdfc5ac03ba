"""The event loop every agent and the flow registry run on (no root needed)."""

import socket
import threading
import time

from common.reactor import LineChannel, Reactor


def test_timers_fire_in_deadline_order_and_never_early():
    loop = Reactor()
    fired = []
    start = time.monotonic()
    for delay in (0.03, 0.01, 0.02):
        loop.call_at(start + delay, lambda d=delay: fired.append((d, time.monotonic() - start)))
    loop.call_at(start + 0.04, loop.stop)
    loop.run()
    assert [d for d, _ in fired] == [0.01, 0.02, 0.03]
    assert all(at >= d for d, at in fired)


def test_a_cancelled_timer_does_not_fire():
    loop = Reactor()
    fired = []
    handle = loop.call_later(0.01, fired.append, "cancelled")
    loop.call_later(0.02, fired.append, "kept")
    loop.call_later(0.03, loop.stop)
    handle.cancel()
    loop.run()
    assert fired == ["kept"]


def test_call_soon_threadsafe_wakes_a_blocked_loop():
    loop = Reactor()
    threading.Timer(0.05, loop.call_soon_threadsafe, args=(loop.stop,)).start()
    start = time.monotonic()
    loop.run()                      # no timers, no sockets: only the wake-up ends it
    assert time.monotonic() - start < 5


def test_line_channel_splits_lines_across_reads_and_sends_in_order():
    loop = Reactor()
    a, b = socket.socketpair()
    got = []
    channel = LineChannel(loop, b, got.append, on_close=loop.stop)
    a.sendall(b'{"op": "one"}\n{"op": "tw')
    loop.call_later(0.02, a.sendall, b'o"}\n\n')
    loop.call_later(0.04, a.close)
    loop.run()
    assert got == [b'{"op": "one"}', b'{"op": "two"}']     # blank lines are skipped
    assert channel.closed


def test_line_channel_queues_what_the_peer_cannot_take_yet():
    loop = Reactor()
    a, b = socket.socketpair()
    a.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    channel = LineChannel(loop, b, lambda line: None)
    payload = b"x" * 200_000 + b"\n"
    assert channel.send(payload)              # more than the socket takes at once
    received = bytearray()

    def drain():
        a.setblocking(False)
        try:
            while True:
                chunk = a.recv(65536)
                if not chunk:
                    break
                received.extend(chunk)
        except BlockingIOError:
            pass
        if len(received) < len(payload):
            loop.call_later(0.001, drain)
        else:
            loop.stop()

    loop.call_soon(drain)
    loop.run()
    assert bytes(received) == payload


def test_send_soon_goes_after_an_immediate_send():
    loop = Reactor()
    a, b = socket.socketpair()
    channel = LineChannel(loop, b, lambda line: None)
    channel.send_soon(b"second\n")
    channel.send(b"first\n")
    loop.call_later(0.02, loop.stop)
    loop.run()
    a.setblocking(False)
    assert a.recv(100) == b"first\nsecond\n"


def test_a_callback_that_raises_is_reported_and_the_loop_goes_on(capsys):
    failures, ran = [], []

    def broken(node):
        raise ValueError(f"no such thing as {node}")

    loop = Reactor(on_error=lambda callback, args, exc: failures.append((callback, args, str(exc))))
    loop.call_soon(broken, "r1.p2d")
    loop.call_later(0.01, ran.append, "after")
    loop.call_later(0.02, loop.stop)
    loop.run()
    assert failures == [(broken, ("r1.p2d",), "no such thing as r1.p2d")]
    assert ran == ["after"] and "ValueError" in capsys.readouterr().err
