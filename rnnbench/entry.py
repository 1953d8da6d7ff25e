"""What a plugin registers: a name, a lazy import path, and what it needs to run."""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass, field

from rnnbench.errors import RnnbenchError


@dataclass(frozen=True)
class Entry:
    """One backend or task offered by a plugin.

    ``target`` is ``"package.module:attribute"``, imported on first use only.
    ``requires`` are top-level module names that must be importable (checked with
    ``importlib.util.find_spec``, which does not import them); ``extra`` is the
    ``pip install 'rnnbench[extra]'`` that provides them. ``impls`` (backends only) are
    the class's ``Backend.impls``, declared here so that ``rnnbench bench`` learns them
    without importing the framework; empty means "ask the class" (a worker process
    imports it), and :func:`rnnbench.plugins.load_backend` refuses a declaration the
    class does not match.
    """

    name: str
    target: str
    requires: tuple[str, ...] = ()
    extra: str | None = None
    description: str = ""
    impls: tuple[str, ...] = ()
    plugin: str = field(default="", compare=False)
    distribution: str = field(default="", compare=False)

    def __post_init__(self):
        # One name is a tuple of one, not of its letters; a list is kept as the tuple a frozen entry needs.
        impls = (self.impls,) if isinstance(self.impls, str) else tuple(self.impls or ())
        object.__setattr__(self, "impls", impls)

    def missing(self) -> list[str]:
        """Required modules that are not installed (empty when available)."""
        return [module for module in self.requires if importlib.util.find_spec(module) is None]

    @property
    def available(self) -> bool:
        return not self.missing()

    def unavailable_reason(self) -> str:
        missing = self.missing()
        if not missing:
            return ""
        how = f"pip install 'rnnbench[{self.extra}]'" if self.extra else f"pip install {' '.join(missing)}"
        return f"{', '.join(missing)} not installed ({how})"

    def load(self):
        """Import and return ``target``; a clear error when it cannot be."""
        if not self.available:
            raise RnnbenchError(f"{self.name} is unavailable: {self.unavailable_reason()}")
        module_name, _, attribute = self.target.partition(":")
        try:
            module = importlib.import_module(module_name)
            return getattr(module, attribute) if attribute else module
        except (ImportError, AttributeError) as exc:
            raise RnnbenchError(f"{self.name}: cannot load {self.target} ({exc})") from exc
        except SystemExit as exc:  # a plugin module that exits on import must not end rnnbench silently
            raise RnnbenchError(
                f"{self.name}: cannot load {self.target} (its import called sys.exit({exc.code!r}))"
            ) from None
