r"""The optimizer family: one module (card) per spec ID, as in optax a chain of units per optimizer.

======================  =======================================================================
module                  IDs
======================  =======================================================================
:mod:`.gd`              ``opt.gd``
:mod:`.momentum`        ``opt.momentum``
:mod:`.nesterov`        ``opt.nesterov``
:mod:`.weight_decay`    ``opt.weight_decay`` (:func:`~.weight_decay.sgd`)
:mod:`.adagrad`         ``opt.adagrad``
:mod:`.rmsprop`         ``opt.rmsprop``
:mod:`.adam`            ``opt.adam`` (with AMSGrad) and ``opt.adamw``
:mod:`.nadam`           ``opt.nadam``
:mod:`.adamax`          ``opt.adamax``
:mod:`.adadelta`        ``opt.adadelta``
======================  =======================================================================

A card holds, in this order, everything of its ID: the names of its options, what its canonical
buffers hold (``BUFFERS``), the state and the scaling unit, the public function (its docstring:
symbols, the math in the spec entry's notation, the sources, the frameworks' splits), the
hyperparameters and variant options only it uses, build and load_state, and ``register(...)``.
What several cards share is written once: the units, the canonical state and the model the kit
drives in :mod:`.common`, the hyperparameters in :mod:`.hyperparameters`; a card imports all of
it, and the names it needs of the base and the registry, with ``from .common import *`` (the
names are listed once, in ``common.__all__``).
"""
