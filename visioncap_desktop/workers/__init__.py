"""Work that must not run on the GUI thread: folder scans, thumbnails, captioning, model import.

Workers only emit signals with plain data (strings, lists of records, QImages); they never touch
widgets or the item model.
"""
