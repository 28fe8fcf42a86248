"""The main window's controllers, one concern each: a captioning run, the open folder, the model
choice, caption edits and undo, exports, the window's actions. A controller holds the models and
workers it needs, never the window or another controller, and reports upward by signals; the
window wires them in its connect_*_signals() methods. Decisions that need no Qt are plain
functions in decisions.py."""
