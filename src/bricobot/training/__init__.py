"""bricobot.training."""
