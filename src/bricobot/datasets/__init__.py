"""bricobot.datasets."""
