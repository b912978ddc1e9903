"""The confident-learning core: cleanlab's algorithms with cleanlab's names, as vectorised numpy.

Modules mirror cleanlab 2.9 (``count``, ``filter``, ``rank``, ``multilabel_classification``,
``token_classification``, ``multiannotator``) so a cleanlab user finds each function where they expect it;
``outofcore`` scores probabilities that do not fit in memory, and ``_engine`` holds the private kernels.
Nothing here knows about runs, DuckDB or Prefect.
"""
