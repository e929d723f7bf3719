"""bricobot.configs."""
