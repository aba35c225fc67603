"""Old name of ``actalker.core.schema`` (the config schema), kept so existing imports work.

``actalker/config.py`` composes and loads configs; the schema it validates against is
``actalker/core/schema.py``.
"""
from actalker.core.schema import *  # noqa: F401,F403
