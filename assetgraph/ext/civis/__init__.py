"""Moving a Civis estate into the project: export, import, verify, archive.

The asset layer does not import this package; `assetgraph civis ...` reaches it through the
`assetgraph.cli` entry point.
"""

from assetgraph.ext.civis.errors import CivisMigrationError

__all__ = ["CivisMigrationError"]
