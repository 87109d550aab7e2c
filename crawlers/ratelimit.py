"""Per-token request pacing, shared by every adapter in the process that uses the same token.

VK allows about 3 requests per second per user token; OK and the feedback platform have
their own limits. A `RateLimiter` spaces calls at least `1 / rate` seconds apart; the clock
and the sleep are injectable so tests never wait. `limiter_for(key, rate)` returns one
limiter per (network, token fingerprint), so two sources with one token share its budget.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable


class RateLimiter:
    def __init__(
        self,
        rate: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.interval = 0.0 if rate <= 0 else 1.0 / rate
        self.clock, self.sleep = clock, sleep
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self) -> float:
        """Block until the next call is allowed; returns how long it slept."""
        if self.interval == 0:
            return 0.0
        with self._lock:
            now = self.clock()
            delay = self._next - now
            if delay > 0:
                self.sleep(delay)
                now += delay
            self._next = now + self.interval
            return max(delay, 0.0)


_LIMITERS: dict[tuple[str, str], RateLimiter] = {}
_LOCK = threading.Lock()


def limiter_for(network: str, token: str, rate: float) -> RateLimiter:
    """The process-wide limiter of one token (keyed by a fingerprint, never the token itself)."""
    key = (network, hashlib.sha256(token.encode()).hexdigest()[:16])
    with _LOCK:
        lim = _LIMITERS.get(key)
        if lim is None or abs(lim.interval - (0.0 if rate <= 0 else 1.0 / rate)) > 1e-12:
            lim = _LIMITERS[key] = RateLimiter(rate)
        return lim
