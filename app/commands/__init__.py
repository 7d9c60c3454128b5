"""CLI command groups by area; each module registers its commands on `app.cli.cli` when imported."""
