"""Tree-sentiment task plugin (registration only: the task itself lives in .task)."""

from rnnbench import Entry, hookimpl


@hookimpl
def rnnbench_register_tasks(register):
    register(
        Entry(
            "treesent",
            "rnnbench.tasks.treesent.task:TreeSentiment",
            requires=("numpy",),
            description="Stanford Sentiment Treebank: recursive/treelstm over the parse, or "
            "rnn/lstm/gru over the words; root fine, root binary, all-node accuracy",
        )
    )
