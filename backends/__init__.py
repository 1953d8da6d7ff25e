"""Builtin backend plugins, installed as ``rnnbench.backends``: one package a framework."""
