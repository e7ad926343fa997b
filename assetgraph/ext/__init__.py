"""Plugins of the asset layer. Each subpackage may import the core; the core never imports them
statically (the CLI finds plugin commands through the `assetgraph.cli` entry-point group)."""
