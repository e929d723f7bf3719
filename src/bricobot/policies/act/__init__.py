"""bricobot.policies.act."""
