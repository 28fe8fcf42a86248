"""Widgets of the main window: the gallery view and its delegate, the side panel, run progress."""
