"""bricobot.emulation."""
