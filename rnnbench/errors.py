"""The one exception type the CLI turns into a one-line message and a non-zero exit."""


class RnnbenchError(Exception):
    """A problem the user can fix (bad name, missing framework, bad file); never a bug."""
