"""The training progress bar: live loss and examples/s on stderr, silent when stderr is not a terminal."""

from __future__ import annotations

import sys


class EpochBar:
    """A tqdm bar over one epoch's batches, or nothing (``enabled=False`` or no tqdm)."""

    def __init__(self, total: int, description: str, enabled: bool | None = None):
        self._bar = None
        if enabled is False:
            return
        try:
            from tqdm import tqdm
        except ImportError:
            return
        # disable=None: tqdm shows the bar only on a terminal, so logs and pipes stay clean.
        self._bar = tqdm(
            total=total,
            desc=description,
            unit="batch",
            file=sys.stderr,
            leave=False,
            dynamic_ncols=True,
            disable=None if enabled is None else False,
        )

    def update(self, loss: float, examples_per_s: float) -> None:
        if self._bar is not None:
            self._bar.set_postfix(loss=f"{loss:.4f}", ex_s=f"{examples_per_s:.0f}", refresh=False)
            self._bar.update(1)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
