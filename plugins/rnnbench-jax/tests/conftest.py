"""Test set-up of rnnbench-jax: hermetic plugins, offline (required backends: rnnbench's pytest plugin)."""

from __future__ import annotations

import os

# The tests register the plugin explicitly; only the CLI tests turn autoloading on, in a subprocess.
os.environ.setdefault("RNNBENCH_DISABLE_PLUGIN_AUTOLOAD", "1")
os.environ.setdefault("RNNBENCH_OFFLINE", "1")
