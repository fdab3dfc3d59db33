"""The one exception type of the adapter library.

Why a ValueError subclass: every failure here is a bad value (a config, a checkpoint, a model that
does not fit), and callers that already catch ValueError keep working.
"""


class AdapterError(ValueError):
    """An adapter cannot be attached, saved, loaded or merged; the message says why in one line."""
