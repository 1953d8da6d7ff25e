"""``rnnbench bench``: speed of every backend, measured honestly (docs/design.md §7).

One job a module: :mod:`.suites` (named grids, size parsing), :mod:`.grid` (options ->
configurations), :mod:`.flops` (counted FLOPs), :mod:`.timing` (warm-up, calibrated
samples, statistics, warnings), :mod:`.peak` (this machine's matrix-multiply peak),
:mod:`.worker` / :mod:`.run_config` (one configuration in a fresh process),
:mod:`.sweep` (the parent side), :mod:`.record` (the ``rnnbench.bench/1`` record),
:mod:`.table` (the terminal table), :mod:`.inputs` and :mod:`.treedata` (seeded data).
Nothing here imports a framework at module level.
"""
