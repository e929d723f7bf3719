"""Running a policy on another machine: a policy server and a robot-side client.

``bricobot serve-policy`` (:mod:`.server`) loads a checkpoint and answers observations with action
chunks; ``bricobot rollout remote=HOST:PORT`` (:mod:`.client`) runs the real-time loop on the
robot's machine, executing the current chunk while the next one is computed. They speak a small
typed wire format (:mod:`.wire` framing, :mod:`.protocol` messages): a JSON header and raw
little-endian tensors or JPEG frames, with size limits, a shared token, and the same feature check
as a local rollout at the handshake. Nothing is ever unpickled.
"""
