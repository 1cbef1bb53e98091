"""The training family's kinds: ``training.early_stopping`` and ``training.backprop``."""
