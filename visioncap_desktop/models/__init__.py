"""Qt item models over the image records (and the records themselves, which are Qt-free)."""
