"""Built-in plugin: the ``motion`` modality (a driving video drives expression and pose)."""
from actalker.plugins.hookspecs import hookimpl


@hookimpl
def register_modalities(register):
    from actalker.plugins.builtin.motion.modality import MOTION

    register(MOTION)
