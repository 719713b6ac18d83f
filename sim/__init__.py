"""The simulator: simulated houses and the demo launcher."""
