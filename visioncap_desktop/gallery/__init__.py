"""The gallery's Qt side: the item model over the image records, the filter proxy, and the undo
commands that change captions. The records themselves are Qt-free (visioncap_desktop.records)."""
