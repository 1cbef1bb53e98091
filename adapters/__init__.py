"""The built-in adapters: PyTorch, Keras (TensorFlow backend) and JAX (optax, flax).

Each module imports its framework at import time; the kit loads them lazily through the
``trainspec.adapters`` entry-point group, so a missing framework only removes its backend.
"""
