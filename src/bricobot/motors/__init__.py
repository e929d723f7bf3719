"""bricobot.motors."""
