"""dbt models as Assay assets (the optional extra: ``pip install 'assay[dbt]'``).

`@dbt_assets` reads a dbt manifest (compiling it with dbt when a project directory is
given) and turns models, seeds and snapshots into one subsettable multi-asset, sources
into external assets and dbt tests into asset checks; `DbtCli.build` runs dbt for the
selected models and streams each node's result as it finishes.
"""

from assay.dbt.assets import DbtAssetsDefinition, dbt_assets
from assay.dbt.cli import DbtCli, DbtCliError
from assay.dbt.manifest import DbtManifest, DbtProject

__all__ = [
    "DbtAssetsDefinition",
    "DbtCli",
    "DbtCliError",
    "DbtManifest",
    "DbtProject",
    "dbt_assets",
]
