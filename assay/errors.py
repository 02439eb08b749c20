"""Typed errors with messages for a person; the CLI prints them without a traceback."""

from __future__ import annotations


class AssayError(Exception):
    """Base class for every error caused by how the user declared or asked for something."""


class DefinitionError(AssayError):
    """The definitions are inconsistent: duplicate keys, cycles, unknown dependencies."""


class DuplicateKeyError(DefinitionError):
    """Two definitions produce the same asset key."""


class CycleError(DefinitionError):
    """The dependencies between assets form a cycle."""


class InvalidSelection(AssayError):
    """A selection string names nothing, or names something that does not exist."""


class ResourceError(AssayError):
    """A resource is missing, misconfigured, or failed to start."""


class LoadError(AssayError):
    """A module or file could not be loaded as a code location."""


class ExecutionConfigError(AssayError):
    """The requested way of executing a run cannot work (e.g. in-memory IO across processes)."""


class PartitionSelectionError(AssayError):
    """A run's partition key or range does not fit the partitions of the selected assets."""
