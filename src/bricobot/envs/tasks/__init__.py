"""bricobot.envs.tasks."""
