"""Checks every action before it reaches a motor: keys, finite values, joint limits, motion cap.

An action with a missing or unknown key, or a value that is not a finite number (NaN, ±inf, a
string), is rejected with a ``ValueError`` that names the key: it is never padded, guessed or
partially applied. Values outside a joint's limits are clipped to the limit, and each joint may
move at most ``max_step`` (degrees, or percent for the gripper) away from its reference position
(the last measured one) per call. :meth:`ActionSafety.check` returns what will actually be sent
and what was clipped, so recorders store the truth and logs can say why the arm did not follow.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Clip:
    """One clipped value: what was asked, what is sent, and why (``"limit"`` or ``"max_step"``)."""

    requested: float
    sent: float
    reason: str


@dataclass(frozen=True)
class SafeAction:
    """The result of a check: the action to send (same keys, in order) and the clipped entries."""

    action: dict[str, float]
    clipped: dict[str, Clip] = field(default_factory=dict)


class ActionSafety:
    """Validates and clips actions for one arm.

    ``keys``: the exact action keys, in order (``"<joint>.pos"``).
    ``limits``: key → (min, max) in action units; keys without an entry are not limit-clipped.
    ``max_step``: key → largest allowed move per call away from the reference; ``None`` or a
    missing key turns the cap off for that key (it is on by default in every robot config).
    """

    def __init__(
        self,
        keys: list[str],
        limits: Mapping[str, tuple[float, float]] | None = None,
        max_step: Mapping[str, float] | None = None,
    ) -> None:
        self.keys = list(keys)
        if len(set(self.keys)) != len(self.keys):
            raise ValueError(f"action keys must be unique, got {self.keys}")
        self.limits = dict(limits or {})
        self.max_step = dict(max_step or {})
        for name, table in (("limits", self.limits), ("max_step", self.max_step)):
            unknown = sorted(set(table) - set(self.keys))
            if unknown:
                raise ValueError(f"{name} names unknown action keys {unknown}; keys: {self.keys}")
        for key, (low, high) in self.limits.items():
            if not (math.isfinite(low) and math.isfinite(high) and low <= high):
                raise ValueError(
                    f"limits[{key!r}] = ({low}, {high}) must be finite with min <= max"
                )
        for key, step in self.max_step.items():
            if not (math.isfinite(step) and step > 0):
                raise ValueError(f"max_step[{key!r}] = {step} must be a finite positive number")

    def validate(self, action: Mapping[str, object]) -> dict[str, float]:
        """Return ``action`` as floats in key order, or raise ``ValueError`` naming what is wrong."""
        if not isinstance(action, Mapping):
            raise ValueError(
                f"an action must be a mapping of {self.keys}, got {type(action).__name__}"
            )
        missing = [k for k in self.keys if k not in action]
        unknown = sorted(str(k) for k in action if k not in self.keys)
        if missing or unknown:
            raise ValueError(
                f"action keys do not match the robot: missing {missing}, unknown {unknown}; "
                f"expected exactly {self.keys}"
            )
        values: dict[str, float] = {}
        for key in self.keys:
            raw = action[key]
            if isinstance(raw, bool) or not isinstance(raw, numbers.Real):
                raise ValueError(f"action[{key!r}] = {raw!r} is not a number; refused")
            value = float(raw)
            if not math.isfinite(value):
                raise ValueError(f"action[{key!r}] = {raw!r} is not a finite number; refused")
            values[key] = value
        return values

    def check(
        self, action: Mapping[str, object], reference: Mapping[str, float] | None = None
    ) -> SafeAction:
        """Validate, clip to limits, then cap each move relative to ``reference`` (measured)."""
        values = self.validate(action)
        clipped: dict[str, Clip] = {}
        sent: dict[str, float] = {}
        for key, value in values.items():
            out = value
            reason = ""
            if key in self.limits:
                low, high = self.limits[key]
                if out < low or out > high:
                    out = min(max(out, low), high)
                    reason = "limit"
            if reference is not None and key in self.max_step and key in reference:
                ref = float(reference[key])
                step = self.max_step[key]
                if math.isfinite(ref) and abs(out - ref) > step:
                    out = ref + math.copysign(step, out - ref)
                    reason = "max_step"
            sent[key] = out
            if reason:
                clipped[key] = Clip(requested=value, sent=out, reason=reason)
        return SafeAction(action=sent, clipped=clipped)
