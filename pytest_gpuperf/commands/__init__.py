"""The ``gpuperf`` subcommands, grouped by what they read; :mod:`pytest_gpuperf.cli` parses."""
