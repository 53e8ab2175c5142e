"""Test helpers for plugin authors: ``tune.testing.searcher_conformance`` (needs pytest)."""
