"""trainspec: an executable specification of the formulas used to train neural networks.

The package has three parts, each a top-level folder of the repository:

- :mod:`trainspec.reference`: the spec registry and its pure-NumPy float64 reference;
- :mod:`trainspec.adapters`: one adapter per framework, found through the
  ``trainspec.adapters`` entry-point group;
- :mod:`trainspec.conformance`: strategies, tolerance policy, checks, runner, report, CLI.
"""

__version__ = "0.1.0"
