"""bricobot.envs."""
