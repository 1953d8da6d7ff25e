"""``rnnbench report``: every record in a results directory, read into one frame, shown as tables and plots.

The modules import pandas, so this package is imported only inside the
command's handler; ``load_results`` (in :mod:`rnnbench.report.frame`) is the
one entry point for code that wants the numbers as a DataFrame.
"""

from __future__ import annotations


def __getattr__(name):
    if name == "load_results":  # lazy: importing the package must not import pandas
        from rnnbench.report.frame import load_results

        return load_results
    raise AttributeError(name)
