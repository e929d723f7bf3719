"""bricobot.motors.protocol."""
