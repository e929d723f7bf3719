"""The real-time side of bricobot: one control loop and the commands built on it.

- :mod:`~bricobot.runtime.clock`: monotonic clocks (precise sleep; fake time for tests);
- :mod:`~bricobot.runtime.loop`: the control loop paced by absolute deadlines, with per-stage
  timing (:mod:`~bricobot.runtime.timing`) and sinks fed off the control thread
  (:mod:`~bricobot.runtime.sinks`);
- :mod:`~bricobot.runtime.shutdown`: the one shutdown routine for every exit path;
- :mod:`~bricobot.runtime.record`, ``teleoperate``, ``replay``, ``rollout``: the commands'
  library functions; :mod:`~bricobot.runtime.commands` builds their devices and dataset writer;
  :mod:`~bricobot.runtime.events` carries the next / re-record / stop keys.
"""
