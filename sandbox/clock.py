"""The sandbox's one clock: real time unless the control API set or froze it.

Everything time-dependent asks this clock: the traffic and settlement simulation, the age
of a request's X-Timestamp, the webhook signature's ``t`` and the webhook retry schedule. A test
freezes it, moves it on by a day, and sees exactly what an acquirer would have done meanwhile.
"""

import threading
import time as _time
from collections.abc import Callable

from sandbox.calendar import SECOND


def wall_micros() -> int:
    return _time.time_ns() // 1000


class Clock:
    """Now, as the sandbox sees it: a virtual time that either stands still (frozen) or runs
    at the speed of the wall clock from where it was last set."""

    def __init__(
        self,
        start: int | None = None,
        *,
        frozen: bool = False,
        wall: Callable[[], int] = wall_micros,
    ):
        self._wall = wall
        self._lock = threading.Lock()
        self._initial = (start, frozen)
        self._set(start, frozen)

    def _set(self, start: int | None, frozen: bool) -> None:
        wall = self._wall()
        self._base_wall = wall
        self._base_virtual = wall if start is None else start
        self._frozen = frozen

    def now(self) -> int:
        with self._lock:
            if self._frozen:
                return self._base_virtual
            return self._base_virtual + (self._wall() - self._base_wall)

    def now_seconds(self) -> int:
        return self.now() // SECOND

    @property
    def frozen(self) -> bool:
        return self._frozen

    def set(self, moment: int, *, frozen: bool = True) -> None:
        with self._lock:
            self._set(moment, frozen)

    def advance(self, micros: int) -> None:
        with self._lock:
            now = (
                self._base_virtual
                if self._frozen
                else (self._base_virtual + (self._wall() - self._base_wall))
            )
            self._base_wall = self._wall()
            self._base_virtual = now + micros

    def run(self) -> None:
        """Let the clock run on from where it stands."""
        with self._lock:
            if self._frozen:
                self._base_wall = self._wall()
                self._frozen = False

    def freeze(self) -> None:
        with self._lock:
            if not self._frozen:
                self._base_virtual += self._wall() - self._base_wall
                self._frozen = True

    def reset(self) -> None:
        """Back to how the sandbox started: real time, or the configured start."""
        with self._lock:
            self._set(*self._initial)
