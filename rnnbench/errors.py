"""The one exception type the CLI turns into a one-line message and a non-zero exit."""


class RnnbenchError(Exception):
    """A problem the user can fix (bad name, missing framework, bad file); never a bug."""


class UnsupportedError(RnnbenchError):
    """What a backend has no path for (``bench --suite lengths``' ``packed`` on Keras masks): its row's
    status is ``unsupported``, with this reason, not ``failed``."""
