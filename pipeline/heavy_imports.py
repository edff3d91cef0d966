"""A run's heavy imports (TensorFlow, TFX, Beam, TFMA) leave about 650,000 Python objects that live
as long as the process: modules, classes, functions. Python's cyclic garbage collector walks all
of them at every full collection, and the imports themselves trigger a dozen: about 1.7 s of the
sample run's 6 s of imports on 2 cores, and 0.3 s for each full collection after them (TFLite's
converter forces two). frozen() imports without the collector and then freezes what is there
(gc.freeze: left out of every later collection, as Python's docs suggest for long-lived objects).

  with heavy_imports.frozen():
    from tfx import v1 as tfx
"""

import contextlib
import gc


@contextlib.contextmanager
def frozen():
  """The collector off for the block; then every object tracked so far frozen, and the
  collector as it was (also when the block raises)."""
  enabled = gc.isenabled()
  gc.disable()
  try:
    yield
  finally:
    gc.freeze()
    if enabled:
      gc.enable()
