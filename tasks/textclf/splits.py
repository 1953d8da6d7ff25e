"""Train, dev and test for each dataset: official splits where they exist, fixed seeded ones where not.

The split seed (``split_seed``) is separate from the run seed, so every seed
and every backend trains and is judged on the same examples.

- imdb, trec, ag_news with train.csv: dev = a seeded ``dev_fraction`` of train; test = the official test.
- sst2: the official train and dev; test = ``test_labeled.tsv`` when present (labels from the SST trees).
- mr, ag_news without train.csv, one user file: ``folds`` seeded folds, fold ``fold`` is test, and dev a
  seeded ``dev_fraction`` of the rest. Run ``--fold 0`` .. ``--fold 9`` for 10-fold cross-validation.
- a user file with ``dev_file``/``test_file``: those files, read with the train file's labels.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rnnbench import (
    DEFAULT_ENCODING,
    USER_FORMATS,
    Examples,
    LabelledData,
    RnnbenchError,
    encode_labels,
    label_names_from,
    names_list,
    normalise_label,
    read_builtin_dataset,
    read_table,
)

BUILTIN = ("imdb", "sst2", "mr", "trec", "ag_news")


@dataclass
class Splits:
    train: Examples
    dev: Examples
    test: Examples | None
    label_names: tuple[str, ...]
    described: dict[str, str]  # split -> where its examples come from
    notes: list[str] = field(default_factory=list)


def is_user_file(dataset: str) -> bool:
    """A path rather than a dataset name: a file suffix, a separator, or something on disk by that name."""
    return (
        Path(dataset).suffix.lower() in USER_FORMATS
        or "/" in dataset
        or "\\" in dataset
        or Path(dataset).expanduser().exists()
    )


def make_splits(config: dict) -> Splits:
    dataset = config["dataset"]
    _check_split_options(config)
    if dataset in BUILTIN:
        data = read_builtin_dataset(dataset, config.get("data_dir"))
    elif is_user_file(dataset):
        data = _read_user_files(config)
    else:
        raise RnnbenchError(
            f"unknown dataset {dataset!r}; valid datasets: {', '.join(BUILTIN)}, "
            f"or a path to a {'/'.join(USER_FORMATS)} file"
        )
    splits = _split(data, config)
    for name in ("train", "dev", "test"):
        examples = getattr(splits, name)
        if examples is not None and len(examples) == 0:
            raise RnnbenchError(f"dataset {dataset!r}: the {name} split is empty ({splits.described[name]})")
    check_classes(dataset, splits, registered=dataset in BUILTIN)
    return splits


def check_classes(dataset: str, splits: Splits, registered: bool) -> None:
    """What a classifier can learn from: at least two classes among the training labels, for every dataset
    (a user's file, or a registered one whose local copy lost a class); a registered dataset's every class.

    MR with an empty ``rt-polarity.pos`` used to train on one class and report 100%.
    """
    names = splits.label_names
    counts = np.bincount(np.asarray(splits.train.labels, dtype=np.int64), minlength=len(names))
    present = [names[i] for i in np.flatnonzero(counts)]
    absent = [names[i] for i in np.flatnonzero(counts == 0)]
    hint = (
        (
            f"; the local copy may be damaged: `rnnbench data list` checks it, `rnnbench data fetch {dataset} "
            "--force` fetches it again"
        )
        if registered
        else ""
    )
    if len(present) < 2:
        raise RnnbenchError(
            f"dataset {dataset!r}: a classifier needs at least two classes, but every training "
            f"example is {names_list(present)} ({len(splits.train)} examples; "
            f"{splits.described['train']}){hint}"
        )
    if registered and absent:
        raise RnnbenchError(
            f"dataset {dataset!r}: class {names_list(absent)} has no training examples "
            f"(classes: {names_list(names)}){hint}"
        )


def _check_split_options(config):
    folds, fold, fraction = config["folds"], config["fold"], config["dev_fraction"]
    if folds < 2:
        raise RnnbenchError(f"folds must be at least 2, got {folds}")
    if not 0 <= fold < folds:
        raise RnnbenchError(f"fold must lie in [0, {folds}), got {fold}")
    if not 0 < fraction < 1:
        raise RnnbenchError(f"dev fraction must lie strictly between 0 and 1, got {fraction}")


def _split(data: LabelledData, config: dict) -> Splits:
    seed, fraction = config["split_seed"], config["dev_fraction"]
    parts = data.splits
    given = "official" if config["dataset"] in BUILTIN else "file"
    if "all" in parts or "train" not in parts:
        source = parts["all"] if "all" in parts else parts["test"]
        origin = "all examples" if "all" in parts else "the official TEST split"
        folds, fold = config["folds"], config["fold"]
        rest, test = fold_split(source, folds, fold, seed)
        train, dev = holdout(rest, fraction, seed)
        described = {
            "train": f"the rest of {origin}",
            "dev": f"seeded {fraction:.0%} of the non-test part",
            "test": f"fold {fold} of {folds} seeded folds of {origin} (split seed {seed})",
        }
        return Splits(train, dev, test, data.label_names, described, list(data.notes))
    if "dev" in parts:
        train, dev = parts["train"], parts["dev"]
        described = {"train": f"{given} train", "dev": f"{given} dev"}
    else:
        train, dev = holdout(parts["train"], fraction, seed)
        described = {
            "train": f"{given} train minus dev",
            "dev": f"seeded {fraction:.0%} of {given} train (split seed {seed})",
        }
    test = parts.get("test")
    described["test"] = f"{given} test" if test is not None else "none (no labelled test split)"
    return Splits(train, dev, test, data.label_names, described, list(data.notes))


def holdout(examples: Examples, fraction: float, seed: int) -> tuple[Examples, Examples]:
    """``(rest, held out)``: a seeded ``fraction`` of the examples held out (at least one)."""
    order = np.random.default_rng([seed, 0xDE5]).permutation(len(examples))
    count = max(1, int(round(len(examples) * fraction))) if len(examples) > 1 else 0
    return examples.subset(np.sort(order[count:])), examples.subset(np.sort(order[:count]))


def fold_split(examples: Examples, folds: int, fold: int, seed: int) -> tuple[Examples, Examples]:
    """``(rest, fold)``: the examples of seeded fold ``fold`` out of ``folds``."""
    order = np.random.default_rng([seed, 0xF01D]).permutation(len(examples))
    chosen = np.array_split(order, folds)[fold]
    rest = np.setdiff1d(order, chosen)
    return examples.subset(rest), examples.subset(np.sort(chosen))


def _read_user_files(config: dict) -> LabelledData:
    text_column, label_column = config["text_column"], config["label_column"]
    path = Path(config["dataset"]).expanduser()
    encoding = config.get("encoding") or DEFAULT_ENCODING
    texts, raw = read_table(path, text_column, label_column, encoding=encoding)
    declared = _declared_labels(config["label_names"]) if config.get("label_names") else None
    names = label_names_from(raw, declared)
    if len(names) < 2:
        raise RnnbenchError(f"{path}: a classifier needs at least two labels, found {names_list(names)}")
    parts = {"all": Examples(texts, encode_labels(path, raw, names))}
    for split, option in (("dev", "dev_file"), ("test", "test_file")):
        if config.get(option):
            other = Path(config[option]).expanduser()
            other_texts, other_raw = read_table(other, text_column, label_column, encoding=encoding)
            parts[split] = Examples(other_texts, encode_labels(other, other_raw, names))
    if "dev" in parts or "test" in parts:
        parts["train"] = parts.pop("all")
    notes = [f"user file {path}: labels {names_list(names, limit=20)} (ids 0..{len(names) - 1})"]
    return LabelledData(str(path), names, parts, notes)


def _declared_labels(text: str) -> tuple[str, ...]:
    """``--label-names``: the labels in id order, spelled as the file's labels are read (``1.0`` is ``1``)."""
    names = tuple(normalise_label(name) for name in str(text).split(","))
    if not all(names):
        raise RnnbenchError(f"--label-names has an empty label: {text!r}")
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise RnnbenchError(f"--label-names names a label twice: {names_list(repeated)} (in {text!r})")
    return names
