"""Long-range task plugin (registration only: the task itself lives in .task)."""

from rnnbench import Entry, hookimpl


@hookimpl
def rnnbench_register_tasks(register):
    register(
        Entry(
            "longrange",
            "rnnbench.tasks.longrange.task:LongRange",
            requires=("numpy",),
            description="adding problem and copy memory at length T (--problem, --seq-len): "
            "vanishing gradients, measured",
        )
    )
