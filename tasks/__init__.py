"""Builtin task plugins, installed as ``rnnbench.tasks``: one module a task."""
