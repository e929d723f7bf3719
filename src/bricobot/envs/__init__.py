"""MuJoCo twins of the arms: tasks, scripted experts, inverse kinematics, gymnasium envs.

Importing this package picks a headless OpenGL backend (``MUJOCO_GL``) before MuJoCo loads, and
registers the gymnasium ids (``bricobot/SO101PickCube-v0``).
"""

from bricobot.envs.rendering import select_backend

select_backend()

from bricobot.envs.registration import register_envs  # noqa: E402

register_envs()
