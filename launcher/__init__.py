"""The product launcher: `assay dev`, the control plane and an agent on one machine.

Not part of the SDK (`assay/` imports none of this) nor of the control plane: it drives both
as child processes, so it may import either. The `assay` command reaches it through the
`assay.commands` entry point (see `launcher.cli`).
"""
