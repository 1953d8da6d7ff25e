"""Text classification: embedding -> rnn/lstm/gru -> pooling over the real steps -> softmax.

The chapter model this project grew from, on imdb (default), sst2, mr, trec,
ag_news or a user's own file. Texts are tokenised and mapped to ids here
(:mod:`rnnbench.text`: vocabulary built on train only), bucketed by length and
padded with id 0 (:mod:`rnnbench.batching`); the backend sees NumPy id
arrays and never learns which dataset it serves.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from rnnbench import (
    FROZEN_RANDOM_NOTE,
    Batch,
    ModelSpec,
    OptimizerSpec,
    Prepared,
    RnnbenchError,
    Task,
    Vocabulary,
    accuracy,
    add_vector_options,
    at_least,
    check_encoding,
    check_memory_fits,
    check_model_memory,
    describe_vectors,
    dtype_itemsize,
    evaluation_order,
    flag_is_set,
    init_model_params,
    nonnegative_int,
    open_fraction,
    pad_sequences,
    peek_vectors_dim,
    positive_int,
    read_vectors,
    seed_int,
    sizes_from_vectors,
    sizes_left_to_vectors,
    tokenize,
    training_order,
    vectors_option,
)

from .splits import BUILTIN, make_splits

#: Defaults shared by every dataset.
COMMON_DEFAULTS = {
    "model": "lstm",
    "activation": "tanh",
    "embed_size": 128,
    "hidden_size": 128,
    "pooling": "mean",
    "layers": 1,
    "bidirectional": False,
    "optimizer": "adam",
    "lr": 2e-3,
    "clip_norm": 5.0,
    "l2": 0.0,
    "vocab_size": 20000,
    "min_count": 2,
    "max_length": 400,
    "truncate": "head",
    "tokenizer": "words",
    "split_seed": 0,
    "dev_fraction": 0.1,
    "folds": 10,
    "fold": 0,
    "text_column": "text",
    "label_column": "label",
    "label_names": None,
    "dev_file": None,
    "test_file": None,
    "encoding": "utf-8",
    "epochs": 3,
    "batch_size": 32,
    "vectors": None,
    "freeze_embeddings": False,
}
#: Per-dataset overrides. IMDB (measured, see the README): reviews end with their verdict, so the last
#: 400 tokens are kept; words seen fewer than 5 times are left out; two epochs (the third overfits).
DATASET_DEFAULTS = {
    "imdb": {"truncate": "tail", "min_count": 5, "lr": 3e-3, "epochs": 2, "batch_size": 64},
    "sst2": {"max_length": 60, "epochs": 3, "batch_size": 64},
    "mr": {"max_length": 60, "epochs": 5},
    "trec": {"max_length": 40, "epochs": 10},
    "ag_news": {"max_length": 100, "epochs": 5},
}


class TextClassification(Task):
    name = "textclf"
    description = "sentence and document classification with a recurrent encoder"
    datasets = BUILTIN
    #: Dev accuracy for time to target (docs/tasks.md says why each): a point or two under what the default
    #: LSTM reaches on every backend, so a fair run reaches it and a slower one shows its cost.
    targets = {
        "imdb": {"accuracy": 0.86},
        "sst2": {"accuracy": 0.82},
        "mr": {"accuracy": 0.73},
        "trec": {"accuracy": 0.85},
    }

    @classmethod
    def add_options(cls, group) -> None:
        group.add_argument(
            "--vocab-size", type=positive_int, metavar="N", help="ids in all, padding and unknown included"
        )
        group.add_argument(
            "--min-count", type=positive_int, metavar="N", help="training count a word needs to get an id"
        )
        group.add_argument("--max-length", type=positive_int, metavar="N", help="tokens kept per text")
        group.add_argument("--truncate", choices=("head", "tail"), help="keep the first (head) or last tokens")
        group.add_argument("--tokenizer", choices=("words", "words+punct"))
        group.add_argument(
            "--split-seed", type=seed_int, metavar="N", help="seed of the fixed dev/test splits (default 0)"
        )
        group.add_argument("--dev-fraction", type=open_fraction, metavar="X")
        group.add_argument("--folds", type=at_least(2), metavar="K", help="folds for datasets without a test split")
        group.add_argument("--fold", type=nonnegative_int, metavar="I", help="which fold is test (0..K-1)")
        group.add_argument("--text-column", metavar="NAME", help="user file: text column or field (default text)")
        group.add_argument("--label-column", metavar="NAME", help="user file: label column or field (default label)")
        group.add_argument("--label-names", metavar="LIST", help="user file: the allowed labels, comma-separated")
        group.add_argument("--dev-file", metavar="PATH", help="user file: a dev file with the same columns")
        group.add_argument("--test-file", metavar="PATH", help="user file: a test file with the same columns")
        group.add_argument(
            "--encoding",
            metavar="NAME",
            help="user files: their text encoding (default utf-8, a byte-order mark skipped; "
            "e.g. latin-1, cp1252, utf-16)",
        )
        add_vector_options(group)

    def defaults(self, dataset: str) -> dict:
        return {**COMMON_DEFAULTS, **DATASET_DEFAULTS.get(dataset, {})}

    def model_spec(self, config: dict, vocab_size: int, num_outputs: int) -> ModelSpec:
        """The model :meth:`prepare` trains for ``config`` once the vocabulary and the classes are known
        (``rnnbench bench --train`` builds it on synthetic batches when IMDB is absent)."""
        return _spec(config, vocab_size, num_outputs)

    def resolve_config(self, given: dict) -> dict:
        """The defaults, except that with ``--vectors`` the embedding size is the file's (None until read).

        Options that contradict each other fail here, before any data is read (and in ``sweep --dry-run``).
        """
        config = sizes_left_to_vectors(super().resolve_config(given), given)
        if config.get("text_column") is not None and config["text_column"] == config.get("label_column"):
            raise RnnbenchError(
                f"--text-column and --label-column are both {config['text_column']!r}: the "
                "labels would be the texts; name the text column and the label column"
            )
        return config

    def prepare(self, config: dict) -> Prepared:
        vectors = vectors_option(config)
        if vectors:  # the size is the file's first line's, checked before any data is read
            config = sizes_from_vectors(config, peek_vectors_dim(vectors))
        # bad model options, sizes that cannot fit and unknown encodings fail before any data is read
        check_model_memory(_spec(config, vocab_size=2, num_outputs=2), vocabulary_known=False)
        check_encoding(config["encoding"])
        splits = make_splits(config)
        kind = config["tokenizer"]
        tokens = {
            name: [tokenize(text, kind) for text in examples.texts]
            for name, examples in (("train", splits.train), ("dev", splits.dev), ("test", splits.test))
            if examples is not None
        }
        if not any(tokens["train"]):  # texts that are all empty teach nothing: the model could only guess
            raise RnnbenchError(
                f"dataset {config['dataset']!r}: every text of the train split is empty (no words "
                f"after tokenizing, --tokenizer {kind}); is --text-column "
                f"{config['text_column']!r} the text?"
            )
        vocab = Vocabulary.build(tokens["train"], config["vocab_size"], config["min_count"])
        cap, truncate = config["max_length"], config["truncate"]
        ids = {name: [vocab.encode(doc, cap, truncate) for doc in docs] for name, docs in tokens.items()}
        labels = {name: np.asarray(getattr(splits, name).labels, dtype=np.int64) for name in ids}
        frozen = flag_is_set(config.get("freeze_embeddings"))
        pretrained = None
        if vectors:  # the tokenizer lower-cases every text: a cased file's words match lower-cased
            pretrained = read_vectors(
                vectors,
                vocab.tokens,
                lowercase=True,
                frozen=frozen,
                dtype=config["dtype"],
                token_counts=Counter(token for doc in tokens["train"] for token in doc),
            )
            config = sizes_from_vectors(config, pretrained.dim)
        spec = _spec(config, len(vocab), len(splits.label_names))
        train_lengths = np.array([len(seq) for seq in ids["train"]])
        batch_size, eval_size = config["batch_size"], config["eval_batch_size"]
        _check_memory(config, spec, train_lengths, batch_size)

        def train_batches(seed: int, epoch: int) -> list[Batch]:
            return [
                _batch(ids["train"], labels["train"], chosen)
                for chosen in training_order(train_lengths, batch_size, seed, epoch)
            ]

        def fixed(name):
            if name not in ids:
                return None
            lengths = np.array([len(seq) for seq in ids[name]])
            return [_batch(ids[name], labels[name], chosen) for chosen in evaluation_order(lengths, eval_size)]

        info = {
            "dataset": config["dataset"],
            "label_names": list(splits.label_names),
            "splits": {
                name: {
                    "examples": len(ids[name]),
                    "source": splits.described[name],
                    "truncated": int(sum(len(doc) > cap for doc in tokens[name])),
                    "mean_tokens": round(float(np.mean([len(s) for s in ids[name]])), 2),
                }
                for name in ids
            },
            "vocab_size": len(vocab),
            "vocab_built_on": "train",
        }
        if "test" not in ids:
            info["splits"]["test"] = {"examples": 0, "source": splits.described["test"]}
        notes, init_params = list(splits.notes), None
        if pretrained is not None:
            info["vectors"] = pretrained.info
            notes.append(describe_vectors(pretrained.info))
            init_params = pretrained.init_params(init_model_params)
        elif frozen:
            notes.append(FROZEN_RANDOM_NOTE)
        return Prepared(
            spec=spec,
            train_batches=train_batches,
            dev=fixed("dev"),
            test=fixed("test"),
            metric="accuracy",
            score=accuracy,
            info=info,
            notes=notes,
            init_params=init_params,
        )


def _spec(config: dict, vocab_size: int, num_outputs: int) -> ModelSpec:
    return ModelSpec(
        cell=config["model"],
        hidden_size=config["hidden_size"],
        num_outputs=num_outputs,
        vocab_size=vocab_size,
        embed_size=config["embed_size"],
        activation=config["activation"],
        pooling=config["pooling"],
        optimizer=OptimizerSpec(config["optimizer"], config["lr"]),
        clip_norm=config["clip_norm"] or None,
        l2=config["l2"],
        dtype=config["dtype"],
        num_layers=config["layers"],
        bidirectional=config["bidirectional"],
        frozen=("embedding",) if flag_is_set(config.get("freeze_embeddings")) else (),
    )


def _check_memory(config: dict, spec: ModelSpec, train_lengths: np.ndarray, batch_size: int) -> None:
    """Refuse a model or a training batch that cannot fit, before the first one is built.

    A batch is as large as the data allows (``--batch-size`` past the number of
    texts, ``--max-length`` past the longest, cost nothing); on the CPU it holds
    the padded ids and the hidden state of every step backpropagation keeps.
    """
    check_model_memory(spec)
    if config.get("device") not in (None, "cpu"):
        return
    rows, steps = min(batch_size, len(train_lengths)), int(train_lengths.max(initial=1))
    kept = spec.hidden_size * spec.num_layers * (2 if spec.bidirectional else 1)  # every unit's states
    check_memory_fits(
        rows * steps * (8 + kept * dtype_itemsize(spec.dtype)),
        f"one training batch of {rows} texts × {steps} tokens with --hidden-size {spec.hidden_size} "
        "(the ids and the hidden states backpropagation keeps)",
        "lower --batch-size, --max-length or --hidden-size",
    )


def _batch(sequences, labels, chosen) -> Batch:
    inputs, lengths = pad_sequences(sequences, chosen)
    return Batch(inputs=(inputs, lengths), targets=labels[chosen], size=len(chosen), tokens=int(lengths.sum()))
