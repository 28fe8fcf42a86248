"""Dialogs: settings, model choice, export options, and the last-resort error dialog."""
