"""tune-plugin-example: how a third party adds a searcher, a scheduler and a callback to tune.

Nothing is imported here on purpose: tune loads ``tune_plugin_example.plugin`` through the
``tune.plugins`` entry point, and the classes are imported only when their names are used.
"""

__version__ = "0.1.0"
