"""Serial-servo buses: Feetech STS/SCS (SO-100/SO-101) and Dynamixel X (Koch).

- ``bus.MotorBus`` (``feetech.FeetechBus``, ``dynamixel.DynamixelBus``): registers by name, sync
  read/write, retries, connect-time checks, torque, health, positions in degrees.
- ``spec.load_motors_spec`` / ``spec.make_bus``: an arm's ``hardware/<robot>/motors.yaml``.
- ``calibration``: ticks ↔ degrees, the guided procedure, versioned JSON files.
- ``tables``: control tables per model; ``protocol``: pure packet codecs; ``errors``: exceptions.
- ``setup`` / ``ports``: scan, motor id assignment, serial port discovery.
"""
