"""How many requests to send a server at once: no more than it works on, so none waits in its queue.

A request that waits in a server's queue waits for whole answers of others: on a CPU-served model that is minutes,
long enough for any idle timeout, and a server that keeps working for a client that gave up piles up abandoned
work. So the sender never has more requests out than the server serves at once:

- the server says (llama.cpp's `/props` or `/slots`): that many, at most the run's concurrency (the run says so);
- it does not, and answers stream: start with one request and double while every request sent with the limit full
  gets its first token about as soon as a request sent alone. A first token that comes late, and right after
  another request ended, means the request waited for that one's slot: the limit settles one below the number
  that were out then. At most one request waits in the server's queue while this is learned (more only when
  answers are as short as the time to a first token, where waiting costs nothing);
- answers do not stream (a local model in this process, recorded answers): the run's concurrency.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

# a first token later than one sent alone (x2, plus this many seconds), and this soon after another request ended,
# means the request waited for that one's slot
QUEUED_FACTOR = 2.0
QUEUED_SLACK = 0.25


class ServerLimit:
    def __init__(self, ceiling: int, *, slots: int | None = None, learn: bool = False) -> None:
        self.ceiling = max(1, int(ceiling))
        self.slots = slots
        if slots:
            self.limit, self.settled = min(self.ceiling, slots), True
        elif learn:
            self.limit, self.settled = 1, self.ceiling == 1
        else:
            self.limit, self.settled = self.ceiling, True
        self.active = 0
        self.alone_wait: float | None = None  # seconds to the first token of a request sent alone
        self.ended: deque[float] = deque(maxlen=64)  # when the latest requests ended (time.monotonic())
        self.learned: str | None = None  # what was found out, in words (for the log and the run's message)
        self._waiters: deque[asyncio.Future[None]] = deque()

    def describe(self) -> str:
        """What the run does, in words."""
        if self.slots:
            capped = f" (the run asked for {self.ceiling})" if self.slots < self.ceiling else ""
            return f"the server works on {_requests(self.slots)} at once: sending {self.limit} at a time{capped}"
        if self.learned:
            return self.learned
        return f"sending up to {self.limit} at a time" + ("" if self.settled else ", learning what the server takes")

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[int]:
        """Hold one of the places; yields how many requests are out with this one."""
        await self._acquire()
        try:
            yield self.active
        finally:
            self.active -= 1
            self._wake()

    async def _acquire(self) -> None:
        if self.active < self.limit and not self._waiters:
            self.active += 1
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.active -= 1  # granted just as it was cancelled: give the place back
                self._wake()
            else:
                self._waiters.remove(waiter)
            raise

    def _wake(self) -> None:
        while self._waiters and self.active < self.limit:
            waiter = self._waiters.popleft()
            if not waiter.done():
                self.active += 1
                waiter.set_result(None)

    def request_ended(self, at: float) -> None:
        self.ended.append(at)

    def first_token(self, out_with: int, sent_at: float, first_at: float) -> None:
        """A request sent at `sent_at` while `out_with` requests were out (itself included) got its first token at
        `first_at` (time.monotonic())."""
        if self.settled:
            return
        waited = first_at - sent_at
        if out_with == 1:
            self.alone_wait = waited if self.alone_wait is None else min(self.alone_wait, waited)
        late = QUEUED_FACTOR * (self.alone_wait if self.alone_wait is not None else waited) + QUEUED_SLACK
        freed = any(sent_at < end <= first_at and first_at - end <= late for end in self.ended)
        if out_with > 1 and waited > late and freed:
            self.limit, self.settled = max(1, out_with - 1), True
            self.learned = (
                f"the server works on {_requests(self.limit)} at once (a request sent beside "
                f"{_requests(self.limit)} waited {waited:.0f} s for its first token): sending {self.limit} at a time"
                + (f" (the run asked for {self.ceiling})" if self.limit < self.ceiling else "")
            )
        elif out_with >= self.limit:
            self.limit = min(self.ceiling, self.limit * 2)
            self.settled = self.limit == self.ceiling
            self._wake()


def _requests(n: int) -> str:
    return "1 request" if n == 1 else f"{n} requests"
