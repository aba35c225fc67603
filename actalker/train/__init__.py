"""Training: `actalker train` (see docs/training.md).

Modules: ``loop`` (the accelerate loop), ``step`` (one micro-batch), ``objective`` (SVD's
EDM v-prediction loss), ``conditioning`` (features, masks, gate/condition/reference
dropout), ``data`` (resumable sampling), ``trainable``, ``ema``, ``checkpoint``,
``logging``, ``validate``, ``build`` (model and data from the config).
Import submodules directly; this package stays light so the CLI starts fast.
"""
