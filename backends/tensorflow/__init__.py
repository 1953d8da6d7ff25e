"""TensorFlow backend plugin (registration only: TensorFlow is imported by .backend on first use)."""

from rnnbench.entry import Entry
from rnnbench.hookspecs import hookimpl


@hookimpl
def rnnbench_register_backends(register):
    register(
        Entry(
            "tensorflow",
            "rnnbench.backends.tensorflow.backend:TensorflowBackend",
            requires=("tensorflow",),
            extra="tensorflow",
            impls=("native", "loop", "xla"),
            description="Keras 3 LSTM/GRU/SimpleRNN layers, a tf.function step loop",
        )
    )
