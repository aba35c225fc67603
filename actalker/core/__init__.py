"""Model core: the selective scan, the Mamba block and the model schema.

Kept import-light on purpose: ``import actalker.core`` must not pull in torch, so the CLI
and the config loader start fast. Import the submodules you need.
"""
