"""Every Qt class lives under here: thin adapters over workbench.core and workbench.training."""
