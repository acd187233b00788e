"""Shared by every stage: the error type, ISA levels, path confinement, labels, glob patterns, the build-tree
layout, bounded evaluation and staging directories."""
