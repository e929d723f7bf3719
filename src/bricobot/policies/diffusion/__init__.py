"""bricobot.policies.diffusion."""
