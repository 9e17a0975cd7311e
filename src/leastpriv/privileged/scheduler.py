"""Which daemon thread reads the channel, which runs each request, and when that changes.

The model, whole:

- Threads: `pool_size` workers, and the watchdog (the thread that calls `Scheduler.serve`),
  which reads only `_running`: the holder's latest ticket and request, one tuple.
- The read role is the `_role` lock. Only the worker holding it calls `read` and `buffered`.
  It reads a request, runs it and replies itself, then reads the next: a call costs no thread
  wake-up in the daemon.
- While it runs a request, the holder has a ticket for it in `_tickets`. The ticket is taken out
  exactly once (dict.pop is atomic), by one of two threads, and whoever takes it decides:
  the holder, done with the request, keeps the role and reads on; or the watchdog, finding the
  same request running a tick after it first saw it, releases `_role` on the holder's behalf, so
  an idle worker takes the role and reads on while the slow request finishes.
- A worker whose ticket the watchdog took no longer holds the role: it sends its reply, never
  calls `read` or `buffered` again, and waits for the role like any idle worker.
- Only the holder may hold a reply back to go out with the next one, and only when the next
  request is already buffered, so that its own next reply carries both. The watchdog flushes held
  replies when it hands the role on: a held reply waits at most two ticks.
- An entrypoint the watchdog had to hand off is remembered as slow: its later calls release the
  role before they run, until one of them is fast again.

Every wait: an idle worker waits for the role, which the holder gives up within two ticks of
starting a request, or at once when the channel closes; the holder's read waits for the caller,
and ends at EOF when the caller closes or dies; the watchdog waits one tick; a send waits while the
caller does not read, and fails when it goes. A request whose function never returns keeps its
worker, and the caller's call timeout ends the caller's wait.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Protocol

LOG = logging.getLogger("leastpriv.daemon")

# The watchdog's tick while requests come: a request keeps the read role for at most two ticks.
# While none comes, the tick doubles up to IDLE_TICK: each wake-up costs CPU (about 1% of a core
# at 100 a second here), and an idle daemon should cost nothing.
HANDOFF_AFTER = 0.01
IDLE_TICK = 0.08


class Channel(Protocol):
    """What the scheduler needs of the daemon's channel."""

    def read(self) -> Any:
        """The next request; None at EOF. Called only by the read role's holder."""

    def buffered(self) -> bool:
        """Whether the next request is already read in whole. Only by the role's holder."""

    def run(self, request: Any) -> Any:
        """The reply to `request`."""

    def send(self, reply: Any, *, hold: bool) -> None:
        """Send `reply`, with any held back before it; `hold`: only queue it for the next."""

    def flush(self) -> None:
        """Send the replies held back."""

    def slow_key(self, request: Any) -> str | None:
        """The name under which `request` is remembered as slow (None: never)."""

    def close(self, reason: BaseException | None) -> None:
        """Close the channel: EOF (None), or the exception that ended serving."""


class Scheduler:
    """Runs the requests of one channel on a pool of workers; see the module's docstring."""

    def __init__(self, channel: Channel, pool_size: int) -> None:
        self._channel = channel
        self._pool_size = pool_size
        self._role = threading.Lock()
        self._tickets: dict[int, bool] = {}
        self._issued = 0  # tickets issued so far; written by the role's holder only
        self._running: tuple[int, Any] = (0, None)  # the holder's last ticket, and its request
        self._slow: set[str] = set()
        self._stopping = threading.Lock()
        self._closed = threading.Event()

    def serve(self) -> None:
        """Start the workers and watch them until the channel closes."""
        for _ in range(self._pool_size):
            threading.Thread(target=self._work, name="leastpriv-worker", daemon=True).start()
        seen = last = 0
        tick = HANDOFF_AFTER
        while not self._closed.wait(tick):
            ticket, request = self._running
            if ticket == seen and self._hand_off(ticket):
                self._learn_slow(request)
            seen = ticket if ticket in self._tickets else 0
            tick = HANDOFF_AFTER if seen or ticket != last else min(2 * tick, IDLE_TICK)
            last = ticket

    def _learn_slow(self, request: Any) -> None:
        key = self._channel.slow_key(request)
        if key is not None:
            self._slow.add(key)
            LOG.debug("%s still ran after %g s: another worker reads on, and its later calls "
                      "hand the channel on before they run", key, HANDOFF_AFTER)

    def _hand_off(self, ticket: int) -> bool:
        """Give the read role to an idle worker while request `ticket` runs; False if it ended."""
        if not self._tickets.pop(ticket, False):
            return False
        self._role.release()
        self._channel.flush()
        return True

    def _work(self) -> None:
        channel, tickets, slow = self._channel, self._tickets, self._slow
        read, run, send, buffered = channel.read, channel.run, channel.send, channel.buffered
        holding = False  # this thread holds the read role (while `ticket` is out: if it gets it)
        ticket = 0
        try:
            while True:
                if not holding:
                    self._role.acquire()
                    holding = True
                    if self._closed.is_set():
                        return  # releasing the role below wakes the next idle worker: it ends too
                request = read()
                if request is None:
                    self._stop(None)
                    return
                self._issued += 1
                ticket = self._issued
                tickets[ticket] = True
                self._running = (ticket, request)
                # The key only while some entrypoint is known to be slow: the usual call skips it.
                key = channel.slow_key(request) if slow else None
                if key is not None and key in slow:
                    self._hand_off(ticket)  # known to be slow: the next request is read at once
                    started = time.perf_counter()
                    reply = run(request)
                    if time.perf_counter() - started < HANDOFF_AFTER:
                        slow.discard(key)  # fast again: its calls run in the reader again
                else:
                    reply = run(request)
                holding, ticket = tickets.pop(ticket, False), 0
                # With the next request already here, its reply goes out with this one.
                send(reply, hold=holding and buffered())
        # Whatever ends a worker closes the channel (fail closed).
        except BaseException as exc:  # noqa: BLE001 - handed to _stop, which closes
            self._stop(exc)
        finally:
            if holding and (not ticket or tickets.pop(ticket, False)):
                self._role.release()

    def _stop(self, reason: BaseException | None) -> None:
        # The first thread to stop closes the channel, and only then lets `serve` return: the
        # process exits when it does, and the log record saying why must have gone out first.
        if self._stopping.acquire(blocking=False):
            self._channel.close(reason)
            self._closed.set()
