r"""Compile once: a persistent compilation cache kept in the report folder.

JAX compiles every jitted function (and every eager primitive) once per shape and dtype in each
process: a row's first examples pay XLA's compilation, and every worker process of a run
(``--jobs N``, a worker restarted after a time-out) pays it again, as does every later run.
:func:`compilation_cache` points JAX's persistent compilation cache at a folder inside the
report folder (``<report>/.jax-cache``), with the size and compile-time thresholds at 0 so that
the small functions of the kit's examples are cached too. A later run with the same report folder
(``tox -m report`` again, a CI job that restores the folder) loads the compiled executables
instead of compiling them. ``--force`` removes a report's files and keeps the cache.

The cache changes no number: JAX keys an executable by the function's lowered program, the
compiler's version and options, and the device, and a cached executable is the one the compiler
produced. It is set through JAX's environment variables, which the worker processes (started
afterwards) inherit; a variable the user has already set wins (pointing the cache elsewhere, or
``JAX_ENABLE_COMPILATION_CACHE=false`` to switch it off).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["CACHE_FOLDER", "compilation_cache"]

#: the cache's folder inside the report folder
CACHE_FOLDER = ".jax-cache"


@contextmanager
def compilation_cache(report_folder: str | Path) -> Iterator[dict[str, str]]:
    r"""Within the block, JAX's persistent compilation cache is ``report_folder / CACHE_FOLDER``
    for this process and the worker processes it starts (see the module docstring); yields the
    environment variables it set (those already set are left as they are) and removes them
    afterwards, so that a later run in the same process uses its own folder."""
    folder = Path(report_folder)
    wanted = {
        "JAX_COMPILATION_CACHE_DIR": str(folder.resolve() / CACHE_FOLDER),
        # cache every executable, however small or quick to compile
        "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
        "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "0",
    }
    set_here = {k: v for k, v in wanted.items() if k not in os.environ}
    os.environ.update(set_here)
    try:
        yield set_here
    finally:
        for k in set_here:
            os.environ.pop(k, None)
