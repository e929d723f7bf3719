"""bricobot.runtime."""
