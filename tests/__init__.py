"""bricobot tests; the layout mirrors src/bricobot."""
