"""The robot side of a remote policy: an action source that hides the network's latency.

:class:`RemotePolicySource` is what the control loop calls once per step. It never waits for the
network: a background thread owns the connection and sends an observation whenever the fresh
actions left fall to ``ceil(latency_p90 / period) + margin`` steps (latency: observation to usable
chunk, the round trip with inference), while the loop keeps executing the current chunk;
stale chunks are dropped (:mod:`.chunks`). By default it follows the checkpoint: one with
temporal ensembling (ACT) gets a new chunk as often as the round trip allows and blends them as
it does locally; others (Diffusion) have their newest chunk executed as is, as they do locally.
With ``send_prefix``, a policy that can continue given actions (Diffusion) is sent the actions the
arm will execute until the answer arrives, and its chunk starts with them. Frames are fit to the
policy's input size before they are sent (raw when small, see ``RemoteOptions.image_encoding``).

When nothing fresh is left (a dropped connection, a restarting or too slow server) the arm holds
its last commanded goal (the present position before the first action), the cause is logged once,
the thread reconnects with exponential back-off, and after ``outage_s`` without a fresh action
the next call raises :class:`~bricobot.runtime.remote.protocol.RemoteUnavailableError`, which ends the
rollout through its usual shutdown. A refusal that would repeat (wrong token, features that no
longer match after a server restart) ends it at the next step.
"""

from __future__ import annotations

import itertools
import logging
import math
import threading
from collections import deque
from dataclasses import dataclass
from typing import Any

import numpy as np

from bricobot.features import is_image_key
from bricobot.policies.base import ACTION_KEY, FeatureConfig
from bricobot.policies.checkpoint import boundary_features
from bricobot.robots.base import Robot
from bricobot.runtime.clock import Clock, SystemClock
from bricobot.runtime.remote.chunks import ChunkQueue, TimedChunk, request_threshold_steps
from bricobot.runtime.remote.config import RemoteClientConfig
from bricobot.runtime.remote.connection import PolicyConnection, describe, is_transient
from bricobot.runtime.remote.protocol import (
    PREFIX_BLOB,
    RemoteUnavailableError,
    history_blobs,
)
from bricobot.runtime.remote.stats import EpisodeStats
from bricobot.runtime.remote.wire import WireLimits, raw_blob

log = logging.getLogger(__name__)

#: Latencies kept for the p90 that sets the request threshold.
LATENCY_WINDOW = 50


@dataclass
class Request:
    """Observations waiting for (or in) a round trip; ``episode`` discards late answers.

    ``history``: the last ``n_obs_steps`` control steps' observations, oldest first (at an
    episode's start the first observation repeated, as the policy does locally)."""

    episode: int
    seq: int
    obs_time_s: float
    history: list[dict[str, Any]]
    #: The actions the queue will execute from ``obs_time_s`` on while this request is answered
    #: ``(d, A)``, for a policy that continues them; None for the others.
    prefix: np.ndarray | None = None


class RemotePolicySource:
    """Observation → action for the control loop, with the policy on a server (see module doc).

    ``connect()`` shakes hands before the robot moves (a refused token or a feature mismatch
    raises there); ``reset()`` starts an episode and waits up to ``request_timeout_s`` for a first
    chunk from the robot's current observation; ``close()`` ends the background thread.
    """

    def __init__(
        self, config: RemoteClientConfig, robot: Robot, fps: float, clock: Clock | None = None
    ) -> None:
        self.config = config
        self.options = config.options
        self.robot = robot
        self.clock: Clock = clock or SystemClock()
        self.period_s = 1.0 / float(fps)
        self.features = boundary_features(robot.observation_features, robot.action_features)
        self.limits = WireLimits(max_payload_bytes=int(self.options.max_message_mb * 2**20))
        self.queue = ChunkQueue(self.period_s, self.options.max_action_age_s)
        self.margin_steps = 2
        self.stats = EpisodeStats()
        self.episodes: list[EpisodeStats] = []
        self.reconnects = 0
        self._lock = threading.Condition()
        self._closed = threading.Event()
        self._connection: PolicyConnection | None = None
        self._policy_features: dict[str, FeatureConfig] = {}
        self._continues_prefix = False
        self._image_size: tuple[int, int] | None = None
        self._image_encoding = "jpeg"
        self._action_names: list[str] = []
        self._pending: Request | None = None
        #: The policy's observation history (one entry per control step; n_obs_steps long).
        self._history: deque[dict[str, Any]] = deque(maxlen=1)
        self._busy = False
        self._episode = 0
        self._seq = itertools.count()
        self._latencies_s: list[float] = []
        self._fatal: BaseException | None = None
        self._failures = 0  # failed connections and round trips so far
        self._problem = ""  # the last cause of trouble, for the one warning of an outage
        self._warned = False  # the current outage has been reported
        self._holding = False  # the last step held the arm's goal
        self._last_action: dict[str, float] | None = None
        self._last_fresh_s = self.clock.now()
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle

    def connect(self) -> None:
        """Shake hands now (raises on refusal), then start the background thread."""
        self._set_connection(self._open())
        self._thread = threading.Thread(target=self._run, name="remote-policy", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._closed.set()
        with self._lock:
            connection, self._connection = self._connection, None
            self._lock.notify_all()
        if connection is not None:
            connection.close()
        if self._thread is not None:
            self._thread.join(timeout=5.0)

    def __enter__(self) -> RemotePolicySource:
        self.connect()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def reset(self) -> None:
        """Start an episode: forget chunks and goals, then prime the queue with a first chunk."""
        with self._lock:
            self._episode += 1
            self.queue.clear()
            self.queue.dropped_stale = 0
            self._pending, self._last_action = None, None
            self._history.clear()
            self._warned = self._holding = False
            self._last_fresh_s = self.clock.now()
            self.stats = EpisodeStats()
            self.episodes.append(self.stats)
        self._raise_if_fatal()
        observation = self.robot.get_observation()
        with self._lock:
            self._remember(observation)
            self._submit(self.clock.now())
            failures = self._failures
            self._lock.wait_for(
                lambda: (
                    bool(self.queue.chunks) or self._fatal is not None or self._failures != failures
                ),
                timeout=self.options.request_timeout_s,
            )

    def episode_summaries(self) -> list[dict[str, Any]]:
        """One :meth:`EpisodeStats.summary` per episode so far (reconnects are counted overall)."""
        return [{**e.summary(), "reconnects": self.reconnects} for e in self.episodes]

    # ------------------------------------------------------------------ control thread

    def __call__(self, observation: dict[str, Any]) -> dict[str, float]:
        """The action for this step; never waits for the network."""
        self._raise_if_fatal()
        now = self.clock.now()
        with self._lock:
            self._remember(observation)
            self.queue.prune(now)
            if not self._busy:  # a request not yet taken is replaced by the newer observation
                threshold = request_threshold_steps(
                    self._latency_p90_s(), self.period_s, self.margin_steps
                )
                if self.queue.remaining_steps(now) <= threshold:
                    self._submit(now)
            blend = self.queue.blend(now)
            self.stats.dropped_stale = self.queue.dropped_stale
        if blend is None:
            return self._hold(observation, now)
        action = dict(zip(self._action_names, blend.action.tolist(), strict=True))
        if self._holding:
            log.info("policy server at %s: fresh actions again", self.config.address)
        self._holding = False
        with self._lock:
            if not self._problem:  # healthy again: the next outage gets its own warning
                self._warned = False
        self._last_fresh_s = now
        self._last_action = action
        self.stats.step(blend.obs_age_s, blend.action_age_s)
        return action

    def _hold(self, observation: dict[str, Any], now: float) -> dict[str, float]:
        """No fresh action: keep the last goal (the present position before any), or give up."""
        self.stats.held()
        outage_s = now - self._last_fresh_s
        if outage_s > self.config.outage_s:
            raise RemoteUnavailableError(
                f"no fresh action from the policy server at {self.config.address} for "
                f"{outage_s:.1f} s ({self._problem or 'no chunk arrived in time'}); the rollout "
                "stopped. Check that `bricobot serve-policy` is running there and reachable, "
                "or allow a longer outage with remote_outage_s=..."
            )
        self._holding = True
        with self._lock:
            self._report(self._problem or self._late_cause())
        if self._last_action is None:
            self._last_action = {k: float(observation[k]) for k in self.features[ACTION_KEY].names}
        return dict(self._last_action)

    def _late_cause(self) -> str:
        latency = self._latency_p90_s()
        return (
            f"no fresh chunk (observation-to-chunk p90 {latency * 1000:.0f} ms; actions older than "
            f"max_action_age_s={self.options.max_action_age_s} s are never sent)"
        )

    def _report(self, cause: str) -> None:
        """Log the cause of an outage once, whichever thread sees it first (caller locks)."""
        if self._warned:
            return
        self._warned = True
        log.warning(
            "policy server at %s: %s; the arm holds its last goal whenever no fresh action is "
            "left, reconnecting as needed (the rollout stops after %.0f s without one)",
            self.config.address,
            cause,
            self.config.outage_s,
        )

    def _remember(self, observation: dict[str, Any]) -> None:
        """Keep this step's observation for the policy's history (caller holds the lock); with
        a history, frames are copied (a camera may reuse its buffer)."""
        if self._history.maxlen == 1:
            self._history.append(dict(observation))
            return
        copied = {k: v.copy() if isinstance(v, np.ndarray) else v for k, v in observation.items()}
        self._history.append(copied)

    def _submit(self, now: float) -> None:
        """Hand the observation history (the last one taken at ``now``) to the background thread,
        padded at the front with its oldest entry to ``n_obs_steps`` (caller holds the lock)."""
        history = list(self._history)
        history = [history[0]] * ((self._history.maxlen or 1) - len(history)) + history
        prefix = None
        if self._continues_prefix and self.options.send_prefix and self.queue.chunks:
            expected_steps = math.ceil(self._latency_p90_s() / self.period_s)
            prefix = self.queue.planned(now, expected_steps)
        self._pending = Request(self._episode, next(self._seq), now, history, prefix)
        self._lock.notify_all()

    def _raise_if_fatal(self) -> None:
        if self._fatal is not None:
            raise self._fatal

    def _latency_p90_s(self) -> float:
        """p90 of observation → usable chunk (queueing, encoding, round trip, inference; s)."""
        return float(np.percentile(self._latencies_s, 90)) if self._latencies_s else 0.0

    # ------------------------------------------------------------------ background thread

    def _open(self) -> PolicyConnection:
        host, port = self.config.host_port
        return PolicyConnection.open(
            host,
            port,
            self.config.token,
            self.robot.robot_type,
            self.features,
            self.options.connect_timeout_s,
            self.limits,
        )

    def _set_connection(self, connection: PolicyConnection) -> None:
        with self._lock:
            self._connection = connection
            welcome = connection.welcome
            self._policy_features = welcome.features
            self._action_names = list(welcome.features[ACTION_KEY].names)
            self._latencies_s = self._latencies_s or [connection.handshake_rtt_s]
            self._history = deque(self._history, maxlen=welcome.n_obs_steps)
            self._continues_prefix = welcome.continues_prefix
            self._image_size = welcome.image_size
            self._image_encoding = self.options.encoding_for(
                frame_bytes(welcome.features, welcome.image_size)
            )
            self._follow_checkpoint(welcome.ensemble_coeff, welcome.chunk_size)

    def _follow_checkpoint(self, coeff: float | None, chunk_size: int) -> None:
        """Blend and request as the checkpoint executes locally, unless the options say how."""
        options = self.options
        if not options.ensemble:
            self.queue.ensemble_coeff = None
        elif options.ensemble_coeff is not None:
            self.queue.ensemble_coeff = options.ensemble_coeff
        else:  # a checkpoint without temporal ensembling executes its newest chunk as is
            self.queue.ensemble_coeff = coeff
        margin = options.request_margin_steps
        if margin is None:  # a checkpoint that ensembles every step wants a chunk per step
            margin = max(chunk_size, 1) if coeff is not None else 2
        self.margin_steps = margin

    def _run(self) -> None:
        backoff_s = self.options.backoff_initial_s
        while not self._closed.is_set():
            if self._connection is None:
                try:
                    self._set_connection(self._open())
                except Exception as exc:
                    if not self._failed(exc, "cannot reconnect"):
                        return
                    self._closed.wait(backoff_s)
                    backoff_s = min(2 * backoff_s, self.options.backoff_max_s)
                    continue
                self.reconnects += 1
                log.info("policy server at %s: reconnected", self.config.address)
                backoff_s = self.options.backoff_initial_s
            request = self._take()
            if request is not None:
                self._round_trip(request)

    def _take(self) -> Request | None:
        with self._lock:
            if self._pending is None:
                self._lock.wait(timeout=0.1)
            request, self._pending = self._pending, None
            self._busy = request is not None
            return request

    def _round_trip(self, request: Request) -> None:
        connection = self._connection
        if connection is None:  # closed meanwhile
            return
        try:
            blobs = history_blobs(
                request.history,
                self._policy_features,
                self._image_encoding,
                self.options.jpeg_quality,
                self._image_size,
            )
            if request.prefix is not None and len(request.prefix):
                blobs.append(raw_blob(PREFIX_BLOB, request.prefix))
            sent_s = self.clock.now()
            self.stats.requests += 1
            chunk = connection.request(
                request.seq,
                request.obs_time_s,
                blobs,
                self.options.request_timeout_s,
                len(request.history),
            )
        except Exception as exc:
            with self._lock:
                self._busy, self._connection = False, None
            connection.close()
            self._failed(exc, "connection lost")
            return
        now = self.clock.now()
        with self._lock:
            self._busy = False
            latency_s = now - request.obs_time_s
            self._latencies_s = [*self._latencies_s, latency_s][-LATENCY_WINDOW:]
            self.stats.round_trip(now - sent_s, latency_s, chunk.infer_s)
            if request.episode == self._episode:  # answers from an earlier episode are dropped
                self.queue.add(TimedChunk(request.obs_time_s, chunk.actions), now)
            self._problem = ""
            self._lock.notify_all()

    def _failed(self, exc: BaseException, what: str) -> bool:
        """Record a failure of the background thread; False when it is fatal (no retry)."""
        if self._closed.is_set():  # close() cut the connection: nothing to report
            return False
        with self._lock:
            if not is_transient(exc):
                self._fatal = exc
                self._lock.notify_all()
                return False
            cause = f"{what}: {describe(exc)}"
            self._report(cause)
            self._problem = cause
            self._failures += 1
            self._lock.notify_all()
            return True


def frame_bytes(features: dict[str, FeatureConfig], image_size: tuple[int, int] | None) -> int:
    """Raw bytes of the largest camera frame sent: at the policy's input size, if it has one."""
    shapes = [f.shape for k, f in features.items() if is_image_key(k)]
    if not shapes:
        return 0
    if image_size is not None:
        return image_size[0] * image_size[1] * 3
    return max(int(np.prod(shape)) for shape in shapes)
