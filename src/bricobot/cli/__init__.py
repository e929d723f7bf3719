"""bricobot.cli."""
