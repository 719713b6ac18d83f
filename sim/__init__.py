"""The simulator: simulated houses, the demo launcher and (later) house physics and a simulated ATN."""
