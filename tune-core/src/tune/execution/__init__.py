"""Executors: where and how trials run (a plugin kind). See ``executor.Executor``."""
