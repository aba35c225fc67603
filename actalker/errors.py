"""User-facing errors.

Every error a user can cause (bad path, unreadable media, a typo in a config key, a plugin
that fails to load, wrong tensor shapes at a public API) is raised as an ``ActalkerError``
subclass whose message is one line naming the thing and what was expected. The CLI prints
``error: <message>`` and exits with status 2; tracebacks are for bugs only.
"""


class ActalkerError(Exception):
    """Base class: a one-line message a user can act on."""


class ConfigError(ActalkerError, ValueError):
    """A config file, key or value is wrong."""


class InputError(ActalkerError, ValueError):
    """An input file or signal is missing, unreadable or unusable (e.g. no face found)."""


class PluginError(ActalkerError, RuntimeError):
    """A plugin failed to load, declared something invalid, or is missing."""


class ShapeError(ActalkerError, ValueError):
    """A tensor argument has the wrong shape, dtype or device."""


class OutputError(ActalkerError, OSError):
    """An output cannot be written: read-only or missing folder, a path under a regular file,
    no space left on device. Raised before heavy work where the path can be checked early."""
