"""Built-in plugin: the ``audio`` modality (speech drives the mouth)."""
from actalker.plugins.hookspecs import hookimpl


@hookimpl
def register_modalities(register):
    from actalker.plugins.builtin.audio.modality import AUDIO

    register(AUDIO)
