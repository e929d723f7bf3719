"""bricobot.teleop."""
