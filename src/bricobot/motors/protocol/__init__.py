"""Pure encode/decode of servo packets, shared by the drivers (``bricobot.motors``) and the emulators.

``feetech``: Feetech STS/SCS frames (checksum). ``dynamixel``: Dynamixel Protocol 2.0 (CRC-16, byte
stuffing). ``values``: sign-magnitude and two's complement register values. No I/O here.
"""
