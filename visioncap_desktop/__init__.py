"""VisionCap's desktop app (PySide6).

Importing this package imports neither Qt nor torch: `visioncap caption ...` goes through the
launcher without loading Qt, and the window appears before the worker thread imports torch.
"""

__version__ = "0.1.0"  # pyproject.toml's version (a test checks); what the app shows when not installed
