"""The main window's controllers, one concern each. Each `<concern>_controller.py` holds one
`<Concern>Controller`: run (a captioning run), folder (the open folder), model (which model
captions), edit (caption edits and undo), batch_edit, tag, export, action (the window's
actions). A controller holds the models and workers it needs, never the window or another
controller, and reports upward by signals; the window wires them in its connect_*_signals()
methods. The two other modules are shared by all of them and need no Qt: decisions.py (plain,
tested functions) and message.py (what a controller tells the user)."""
