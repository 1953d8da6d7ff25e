"""Text-classification task plugin (registration only: the task itself lives in .task)."""

from rnnbench import Entry, hookimpl


@hookimpl
def rnnbench_register_tasks(register):
    register(
        Entry(
            "textclf",
            "rnnbench.tasks.textclf.task:TextClassification",
            requires=("numpy",),
            description="embedding -> rnn/lstm/gru -> pooling -> softmax on imdb, sst2, mr, trec, "
            "ag_news or your own file",
        )
    )
