"""bricobot.robots."""
