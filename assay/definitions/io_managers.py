"""IO managers: how an asset's output is stored and loaded by its downstream assets."""

from __future__ import annotations

import os
import pickle
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assay.definitions.asset_key import AssetKey
from assay.definitions.resources import ConfigurableResource


@dataclass
class OutputContext:
    """What an IO manager knows when storing an asset's value."""

    asset_key: AssetKey
    run_id: str
    step_key: str
    partition_key: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    def add_output_metadata(self, metadata: dict[str, Any]) -> None:
        """Attach metadata (e.g. a path or row count) to the materialization event."""
        self.metadata.update(metadata)


@dataclass
class InputContext:
    """What an IO manager knows when loading an upstream asset's value."""

    asset_key: AssetKey
    run_id: str
    step_key: str
    partition_key: str | None = None


class IOManager(ConfigurableResource):
    """Stores outputs and loads inputs; subclass it for warehouses, object stores, etc."""

    def handle_output(self, context: OutputContext, obj: Any) -> None:
        raise NotImplementedError

    def load_input(self, context: InputContext) -> Any:
        raise NotImplementedError

    @property
    def works_across_processes(self) -> bool:
        """Whether a value stored in one worker process can be loaded in another."""
        return True


class FilesystemIOManager(IOManager):
    """Pickles each asset to ``<base_dir>/<key path>``: values outlive the run and the process."""

    base_dir: str = ".assay/storage"

    def path_for(self, asset_key: AssetKey, partition_key: str | None = None) -> Path:
        path = Path(self.base_dir, *asset_key.path)
        return path / partition_key if partition_key is not None else path

    def handle_output(self, context: OutputContext, obj: Any) -> None:
        path = self.path_for(context.asset_key, context.partition_key)
        path.parent.mkdir(parents=True, exist_ok=True)
        # Write then rename, so a reader never sees half a pickle.
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        try:
            with os.fdopen(fd, "wb") as fh:
                pickle.dump(obj, fh, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        context.add_output_metadata({"path": str(path)})

    def load_input(self, context: InputContext) -> Any:
        path = self.path_for(context.asset_key, context.partition_key)
        if not path.exists():
            raise FileNotFoundError(
                f"no stored value for asset '{context.asset_key}' at {path}: "
                "materialize it first (or select it in this run)"
            )
        with path.open("rb") as fh:
            return pickle.load(fh)


class InMemoryIOManager(IOManager):
    """Keeps values in a dict for the life of the run: fast, for tests; single process only."""

    def __post_init__(self) -> None:
        self.values: dict[tuple[AssetKey, str | None], Any] = {}

    def handle_output(self, context: OutputContext, obj: Any) -> None:
        self.values[(context.asset_key, context.partition_key)] = obj

    def load_input(self, context: InputContext) -> Any:
        try:
            return self.values[(context.asset_key, context.partition_key)]
        except KeyError:
            raise KeyError(
                f"asset '{context.asset_key}' has no value in memory: in-memory IO only "
                "holds values produced earlier in the same run"
            ) from None

    @property
    def works_across_processes(self) -> bool:
        return False
