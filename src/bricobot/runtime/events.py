"""Episode control flags: next episode, re-record, stop — set by keys, read by the recorder.

The recorder checks :meth:`EpisodeEvents.any_set` once per control step. Keys are read by polling
(``poll`` is a non-blocking callable such as :meth:`bricobot.teleop.keyboard.KeyboardEvents.poll`,
returning event names ``"next"``, ``"rerecord"``, ``"stop"``) on the control thread, so no extra
thread touches the terminal; flags may also be set from any thread (tests, a GUI).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable

#: Event names a poller may return, and the flag each one sets.
EVENT_NAMES = ("next", "rerecord", "stop")


class EpisodeEvents:
    """``next_episode`` ends the current episode or reset period early (it is kept);
    ``rerecord`` ends it and discards it; ``stop`` ends recording after saving the current episode.
    """

    def __init__(
        self, poll: Callable[[], Iterable[str]] | None = None, keys_help: str = ""
    ) -> None:
        self.next_episode = threading.Event()
        self.rerecord = threading.Event()
        self.stop = threading.Event()
        self._poll = poll
        #: Which key does what, for the person at the arm; "" when no keys are read.
        self.keys_help = keys_help

    @property
    def keys_active(self) -> bool:
        """Whether keys are read at all (otherwise only code and signals set the flags)."""
        return self._poll is not None

    def update(self) -> None:
        """Take pending key events from the poller, if any, and set the matching flags."""
        if self._poll is None:
            return
        for name in self._poll():
            value = str(getattr(name, "value", name))
            if value == "next":
                self.next_episode.set()
            elif value == "rerecord":
                self.rerecord.set()
            elif value == "stop":
                self.stop.set()

    def any_set(self) -> bool:
        self.update()
        return self.next_episode.is_set() or self.rerecord.is_set() or self.stop.is_set()

    def clear_episode_flags(self) -> None:
        """Forget ``next_episode`` and ``rerecord`` (called when an episode or reset starts)."""
        self.update()
        self.next_episode.clear()
        self.rerecord.clear()
