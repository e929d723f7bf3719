"""bricobot.policies."""
