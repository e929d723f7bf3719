"""MuJoCo twins of the arms: tasks, scripted experts, inverse kinematics, gymnasium envs.

Importing this package picks a headless OpenGL backend (``MUJOCO_GL``) before MuJoCo loads, and
registers the gymnasium ids (``bricobot/SO101PickCube-v0``).
"""

from bricobot.cameras.rendering import import_mujoco

# MuJoCo binds its GL backend at import; a forced backend that cannot load fails here, explained.
import_mujoco()

from bricobot.envs.registration import register_envs  # noqa: E402

register_envs()
