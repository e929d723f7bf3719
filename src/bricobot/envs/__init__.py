"""MuJoCo twins of the arms: tasks, scripted experts, inverse kinematics, gymnasium envs.

Importing this package registers the gymnasium ids (``bricobot/SO101PickCube-v0``) and nothing
else: the headless OpenGL backend is chosen the first time something renders
(:func:`bricobot.cameras.rendering.select_backend`), so an import sets no environment variable and
starts no process.
"""

from bricobot.envs.registration import register_envs

register_envs()
