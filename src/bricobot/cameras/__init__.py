"""bricobot.cameras."""
