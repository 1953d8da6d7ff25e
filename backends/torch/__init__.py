"""PyTorch backend plugin (registration only: torch is imported by .backend on first use)."""

from rnnbench.entry import Entry
from rnnbench.hookspecs import hookimpl


@hookimpl
def rnnbench_register_backends(register):
    register(
        Entry(
            "torch",
            "rnnbench.backends.torch.backend:TorchBackend",
            requires=("torch",),
            extra="torch",
            impls=("native", "loop", "compiled"),
            description="fused nn.RNN/LSTM/GRU, a step loop, torch.compile",
        )
    )
