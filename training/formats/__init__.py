"""The annotation layouts `training.annotations.read_captions` reads, one module each (see docs/training-data.md)."""
