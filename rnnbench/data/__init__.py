"""The data layer shared by every task: where datasets live, how they are fetched, how they are read.

``paths`` resolves the data directory, ``registry`` names each dataset with its
original download address and checksum, ``fetch`` downloads, verifies and
extracts safely, ``convert`` turns an original archive into the local layout,
and ``readers`` reads that layout (and a user's own files) into plain Python.
Nothing here imports a framework.
"""
