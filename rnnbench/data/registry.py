"""The datasets rnnbench knows: original download addresses, published checksums, local layout.

Each :class:`DatasetSource` says where the original bytes live (the authors'
own address where it still serves them), the checksum someone else published
for those bytes (every download has one, so a fetched copy is the one the
literature used), the converter that turns the original archive into the
local layout the readers expect, and the files that make a local copy usable.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rnnbench.errors import RnnbenchError


@dataclass(frozen=True)
class Download:
    """One original file: its address, the name to store it under, and its published checksum."""

    url: str
    filename: str
    checksum: str | None = None  # "sha256:<hex>" or "md5:<hex>"
    checksum_source: str = ""  # who published the checksum
    size: int | None = None  # bytes, where known: announced before the download starts

    @property
    def archive_kind(self) -> str:
        """``tar.gz``, ``zip`` or ``file`` (used as is), from the file name."""
        name = self.filename.lower()
        if name.endswith((".tar.gz", ".tgz")):
            return "tar.gz"
        if name.endswith(".zip"):
            return "zip"
        return "file"


@dataclass(frozen=True)
class DatasetSource:
    """A dataset: name, what it is, where the original comes from, and how it lands locally."""

    name: str
    title: str
    classes: int
    downloads: tuple[Download, ...]
    converter: str  # function name in rnnbench.data.convert
    required: tuple[str, ...]  # files (relative to the dataset folder) without which it is unusable
    optional: tuple[str, ...] = ()
    notes: str = ""
    citation: str = ""
    needs: tuple[str, ...] = ()  # datasets the converter derives files from (fetched first when missing)
    max_unpacked_bytes: int = 2 << 30  # extraction stops past this total: a decompression bomb is refused
    extra: dict = field(default_factory=dict)
    #: Bytes of each local file as the converter writes it from the original (``rnnbench data list`` calls a
    #: smaller one truncated); a file not listed is only checked not to be empty.
    sizes: dict = field(default_factory=dict)

    @property
    def download_bytes(self) -> int | None:
        """The registered size of every download together, None when one is unknown."""
        sizes = [d.size for d in self.downloads]
        return None if None in sizes else sum(sizes)


#: AG News's class names in label order (labels 1-4 of its CSV); its converter writes them to classes.txt.
AG_NEWS_CLASSES = ("World", "Sports", "Business", "Sci/Tech")

DATASETS: dict[str, DatasetSource] = {
    d.name: d
    for d in (
        DatasetSource(
            name="imdb",
            title="IMDB Large Movie Review v1.0 (labelled 25k train / 25k test)",
            classes=2,
            downloads=(
                Download(
                    "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz",
                    "aclImdb_v1.tar.gz",
                    "md5:7c2ac02c03563afcf9b574c7e56c153a",
                    "torchtext IMDB loader",
                    size=84_125_825,
                ),
            ),
            converter="convert_imdb",
            required=("train.jsonl.gz", "test.jsonl.gz"),
            sizes={"train.jsonl.gz": 12_984_923, "test.jsonl.gz": 12_681_572},
            notes="the 50k unlabelled reviews are not converted",
            citation="Maas et al. 2011, ACL-HLT",
        ),
        DatasetSource(
            name="sst",
            title="Stanford Sentiment Treebank, PTB trees (SST-5)",
            classes=5,
            downloads=(
                Download(
                    "https://nlp.stanford.edu/sentiment/trainDevTestTrees_PTB.zip",
                    "trainDevTestTrees_PTB.zip",
                    "sha256:5c613a4f673fc74097d523a2c83f38e0cc462984d847b82c7aaf36b01cbbbfcc",
                    "JuliaText and other public download pins",
                    size=789_539,
                ),
            ),
            converter="convert_sst",
            required=("train.txt", "dev.txt", "test.txt"),
            sizes={"train.txt": 2_160_058, "dev.txt": 280_825, "test.txt": 559_614},
            citation="Socher et al. 2013, EMNLP",
        ),
        DatasetSource(
            name="sst2",
            title="GLUE SST-2 (phrases for train, sentences for dev/test)",
            classes=2,
            downloads=(
                Download(
                    "https://dl.fbaipublicfiles.com/glue/data/SST-2.zip",
                    "SST-2.zip",
                    "md5:9f81648d4199384278b86e315dac217c",
                    "torchtext SST2 loader",
                    size=7_439_277,
                ),
            ),
            converter="convert_sst2",
            required=("train.tsv", "dev.tsv"),
            optional=("test.tsv", "test_labeled.tsv"),  # a GLUE copy without labels still trains (dev reported)
            sizes={"train.tsv": 3_806_081, "dev.tsv": 94_931, "test.tsv": 197_335, "test_labeled.tsv": 200_983},
            needs=("sst",),
            notes="GLUE hides the test labels: test_labeled.tsv is derived from the SST test trees (root label "
            "0-1 negative, 3-4 positive, neutral dropped; 1,821 sentences, GLUE's order and spelling)",
            citation="Socher et al. 2013; Wang et al. 2018 (GLUE)",
        ),
        DatasetSource(
            name="mr",
            title="MR sentence polarity v1.0 (rt-polarity), no official split",
            classes=2,
            downloads=(
                Download(
                    "https://www.cs.cornell.edu/people/pabo/movie-review-data/rt-polaritydata.tar.gz",
                    "rt-polaritydata.tar.gz",
                    "sha256:a05befe52aafda71d458d188a1c54506a998b1308613ba76bbda2e5029409ce9",
                    "Hugging Face rotten_tomatoes download_checksums (the same archive)",
                    size=487_770,
                ),
            ),
            converter="convert_mr",
            required=("rt-polarity.pos", "rt-polarity.neg"),
            sizes={"rt-polarity.pos": 626_395, "rt-polarity.neg": 612_506},
            notes="original is Windows-1252; converted to UTF-8",
            citation="Pang and Lee 2005, ACL",
        ),
        DatasetSource(
            name="trec",
            title="TREC question classification (Li and Roth), 6 coarse / 50 fine labels",
            classes=6,
            downloads=(
                Download(
                    "https://cogcomp.seas.upenn.edu/Data/QA/QC/train_5500.label",
                    "train_5500.label",
                    "sha256:9e4c8bdcaffb96ed61041bd64b564183d52793a8e91d84fc3a8646885f466ec3",
                    "Hugging Face trec download_checksums",
                    size=335_858,
                ),
                Download(
                    "https://cogcomp.seas.upenn.edu/Data/QA/QC/TREC_10.label",
                    "TREC_10.label",
                    "sha256:033f22c028c2bbba9ca682f68ffe204dc1aa6e1cf35dd6207f2d4ca67f0d0e8e",
                    "Hugging Face trec download_checksums",
                    size=23_354,
                ),
            ),
            converter="convert_trec",
            required=("train_5500.label", "TREC_10.label"),
            sizes={"train_5500.label": 335_858, "TREC_10.label": 23_354},
            notes="latin-1 text",
            citation="Li and Roth 2002, COLING",
        ),
        DatasetSource(
            name="ag_news",
            title="AG News topic classification (4 classes)",
            classes=4,
            downloads=(
                Download(
                    "https://raw.githubusercontent.com/mhjabreel/CharCnn_Keras/master/data/ag_news_csv/train.csv",
                    "train.csv",
                    "md5:b1a00f826fdfbd249f79597b59e1dc12",
                    "torchtext AG_NEWS loader",
                ),
                Download(
                    "https://raw.githubusercontent.com/mhjabreel/CharCnn_Keras/master/data/ag_news_csv/test.csv",
                    "test.csv",
                    "md5:d52ea96a97a2d943681189a97654912d",
                    "torchtext AG_NEWS loader",
                    size=1_857_427,
                ),
            ),
            converter="convert_ag_news",
            required=("test.csv",),
            optional=("train.csv", "classes.txt"),
            sizes={"test.csv": 1_857_427, "classes.txt": 31},
            notes="a copy with test.csv alone (7,600 rows) is usable but not comparable with published figures; "
            "`rnnbench data fetch ag_news` gets train.csv too",
            citation="Zhang, Zhao and LeCun 2015, NIPS",
        ),
    )
}


def get_source(name: str) -> DatasetSource:
    """The registered dataset ``name``; a one-line error listing the valid names otherwise."""
    if name not in DATASETS:
        raise RnnbenchError(f"unknown dataset {name!r}; valid datasets: {', '.join(sorted(DATASETS))}")
    return DATASETS[name]
