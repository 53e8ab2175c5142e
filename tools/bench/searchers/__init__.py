"""Per-library pieces of the searcher benchmark (``tools/bench/searcher_quality.py``).

Each ``<library>.py`` module defines ``LIBRARY`` (the name), ``make_adapter(seed)`` (the
tune-search adapter, seeded) and ``native_loop(problem, seed, budget)`` (the same library
driven directly through its own ask/tell loop), returning ``LoopResult``.
"""
