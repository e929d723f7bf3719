"""Virtual servos and buses on a pseudo-terminal (``VirtualServo``, ``VirtualBus``, ``Faults``)."""

from bricobot.emulation.bus import Faults, JointSource, VirtualBus
from bricobot.emulation.servo import VirtualServo

__all__ = ["Faults", "JointSource", "VirtualBus", "VirtualServo"]
