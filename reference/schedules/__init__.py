r"""Learning-rate schedules, performance scheduling and random search (pure NumPy, float64).

=======================  ==================================================================
module                   IDs
=======================  ==================================================================
:mod:`.decay`            ``sched.linear``, ``sched.power``, ``opt.legacy_decay``,
                         ``sched.exponential``, ``sched.annealing`` (one card each)
:mod:`.piecewise`        ``sched.piecewise_constant``
:mod:`.plateau`          ``sched.plateau``
:mod:`.search`           ``sched.lr_range``, ``sched.log_uniform``
=======================  ==================================================================

What the cards share (the model the kit drives, the running-product evaluation order, the
checks of step counts, the shared hyperparameters) is in :mod:`.common`, which a card imports
with ``from .common import *``.
"""
