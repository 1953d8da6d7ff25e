"""``rnnbench sweep``: a whole comparison matrix from one TOML file, run here or on a Ray cluster.

``spec`` reads and checks the file, ``resume`` finds what is already done,
``local`` and ``ray_executor`` run the rest, ``records`` writes the record of a
run that could not write its own. Nothing here imports a framework or Ray at
import time: ``rnnbench --help`` stays fast.
"""
