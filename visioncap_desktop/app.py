"""`run_app(argv)`: the desktop app's entry point, behind the `visioncap` command.

    visioncap [FOLDER]                          open the window (on FOLDER)
    visioncap --model BUNDLE [FOLDER]           use this bundle instead of the saved choice
    visioncap --screenshot out.png FOLDER       caption FOLDER, save a picture of the window, exit
    visioncap --self-test [--model BUNDLE]      check an installation without opening a window
    visioncap --check-system                    say which system libraries Qt needs and lacks

Nothing here imports torch: the window is up before the worker thread loads the model. On Linux
the system libraries Qt needs are checked before Qt is imported (system_libraries.check_system).
The non-interactive modes (--screenshot, --self-test) never open a dialog.
"""

from __future__ import annotations

import argparse
import logging
import logging.handlers
import os
import sys
import threading
import traceback
from pathlib import Path

from visioncap_desktop import paths
from visioncap_desktop.resources import demo_bundle_path, resource_path
from visioncap_desktop.system_libraries import check_system, qt_platforms

log = logging.getLogger("visioncap_desktop")

SCREENSHOT_SIZE = (1360, 860)
# registered when fontconfig finds no font at all (a bare system), so labels are not boxes
FALLBACK_FONT = ("assets", "fonts", "DejaVuSans.ttf")
# the aliases Qt lists even when fontconfig has no font file behind them
GENERIC_FAMILIES = frozenset({"Sans Serif", "Serif", "Monospace"})


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="visioncap",
        description="Caption folders of photos on your own computer. Without a subcommand this opens the app; "
                    "`visioncap caption --help` and `visioncap import-hf --help` describe the headless commands.",
    )
    parser.add_argument("folder", nargs="?", help="a folder of images to open")
    parser.add_argument("--model", metavar="MODEL",
                        help="a model to use until the app quits: 'demo', a catalogue name (visioncap models) or a folder")
    parser.add_argument("--screenshot", metavar="PNG",
                        help="open FOLDER, caption every image, save the window as PNG and exit")
    parser.add_argument("--self-test", action="store_true",
                        help="caption the bundled sample images and write a CSV without opening a window")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds --screenshot may take (default 600)")
    parser.add_argument("--check-system", action="store_true",
                        help="check for the system libraries the window needs (Linux), print what is missing and exit")
    return parser


def setup_logging() -> Path | None:
    """Warnings to stderr, everything from INFO to a rotating log file in the data folder."""
    root = logging.getLogger()
    root.setLevel(logging.INFO)
    console = logging.StreamHandler()
    console.setLevel(logging.WARNING)
    console.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root.addHandler(console)
    log_path = paths.log_file()
    try:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.handlers.RotatingFileHandler(log_path, maxBytes=2_000_000, backupCount=2, encoding="utf-8")
    except OSError as exc:
        log.warning("no log file (%s): %s", log_path, exc)
        return None
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(threadName)s %(name)s: %(message)s"))
    root.addHandler(handler)
    return log_path


def install_exception_hook(log_path: Path | None):
    """Route uncaught exceptions (any thread) to the log and to a dialog with the traceback.

    Returns the reporter object (the hooks keep it alive).
    """
    from PySide6.QtCore import QObject, Signal, Slot
    from PySide6.QtWidgets import QApplication

    from visioncap_desktop.dialogs.error_dialog import show_exception_dialog

    class ExceptionReporter(QObject):
        # emitted from any thread; the slot runs in the GUI thread, where widgets may be made
        exception_raised = Signal(str, str)

        def __init__(self):
            super().__init__()
            self.dialog = None  # the one shown now; later errors meanwhile go to the log only
            self._inside = threading.local()
            self.exception_raised.connect(self.show_dialog)

        @Slot(str, str)
        def show_dialog(self, summary: str, details: str) -> None:
            if self.dialog is not None:
                return
            self.dialog = show_exception_dialog(QApplication.activeWindow(), summary, details,
                                                str(log_path or "(no log file)"))
            self.dialog.finished.connect(self._dialog_closed)

        def _dialog_closed(self) -> None:
            self.dialog = None

        def hook(self, exc_type, exc, tb) -> None:
            if issubclass(exc_type, KeyboardInterrupt) or getattr(self._inside, "active", False):
                # an error while reporting an error must not loop
                sys.__excepthook__(exc_type, exc, tb)
                return
            self._inside.active = True
            try:
                details = "".join(traceback.format_exception(exc_type, exc, tb))
                log.critical("unhandled exception\n%s", details)
                self.exception_raised.emit(f"{exc_type.__name__}: {exc}", details)
            finally:
                self._inside.active = False

    reporter = ExceptionReporter()
    sys.excepthook = reporter.hook
    threading.excepthook = lambda args: reporter.hook(args.exc_type, args.exc_value, args.exc_traceback)
    return reporter


def install_logging_exception_hook() -> None:
    """For the non-interactive modes: uncaught exceptions (any thread) go to the log and to
    stderr, and no dialog waits for a person."""

    def hook(exc_type, exc, tb) -> None:
        log.critical("unhandled exception\n%s", "".join(traceback.format_exception(exc_type, exc, tb)))

    sys.excepthook = hook
    threading.excepthook = lambda args: hook(args.exc_type, args.exc_value, args.exc_traceback)


def needs_fallback_font(families: list[str]) -> bool:
    """Whether Qt found no font on the system (fontconfig without fonts or without its config):
    nothing but the generic aliases."""
    return not set(families) - GENERIC_FAMILIES


def install_fallback_font(app, families: list[str] | None = None) -> str | None:
    """Register the bundled DejaVu Sans and make it the app's font when the system has no font;
    the family name, or None when nothing was needed (or the font could not be loaded)."""
    from PySide6.QtGui import QFont, QFontDatabase

    if not needs_fallback_font(QFontDatabase.families() if families is None else families):
        return None
    path = resource_path(*FALLBACK_FONT)
    font_id = QFontDatabase.addApplicationFont(str(path))
    registered = QFontDatabase.applicationFontFamilies(font_id) if font_id >= 0 else []
    if not registered:
        log.warning("no fonts on this system and the bundled %s could not be loaded", path)
        return None
    log.info("no fonts on this system: using the bundled %s", registered[0])
    app.setFont(QFont(registered[0]))
    return registered[0]


def screenshot_model(model: str | None) -> str | None:
    """The bundle --screenshot captions with: --model, else the built-in demo model; None when
    there is neither (the run then fails at once instead of asking)."""
    if model:
        return model
    return "demo" if demo_bundle_path() is not None else None


def run_app(argv: list[str]) -> int:
    parser = build_parser()
    args, qt_args = parser.parse_known_args(argv)
    if args.screenshot and not args.folder:
        parser.error("--screenshot needs a FOLDER to caption")
    if args.check_system:
        return check_system(qt_platforms(os.environ, qt_args), quiet=False)
    if args.self_test:
        setup_logging()
        from visioncap_desktop.selftest import run_self_test

        return run_self_test(args.model)
    if args.screenshot:
        args.model = screenshot_model(args.model)
        if args.model is None:
            sys.stderr.write("visioncap --screenshot failed: no model: pass --model BUNDLE "
                             "(this installation has no built-in demo model)\n")
            return 2
    code = check_system(qt_platforms(os.environ, qt_args))
    if code:
        return code
    return _run_gui(args, qt_args, setup_logging())


def _run_gui(args: argparse.Namespace, qt_args: list[str], log_path: Path | None) -> int:
    from PySide6.QtCore import QTimer
    from PySide6.QtGui import QIcon
    from PySide6.QtWidgets import QApplication

    from visioncap_desktop.main_window import MainWindow
    from visioncap_desktop.settings import Settings

    app = QApplication.instance() or QApplication(["visioncap", *qt_args])
    app.setApplicationName("VisionCap")
    app.setDesktopFileName("visioncap")  # Wayland docks match the window to visioncap.desktop
    app.setWindowIcon(QIcon(str(resource_path("assets", "visioncap.png"))))
    install_fallback_font(app)
    if args.screenshot:
        install_logging_exception_hook()
    else:
        install_exception_hook(log_path)
    settings = Settings.load()
    window = MainWindow(settings, model_override=args.model, first_run_prompt=not args.screenshot)
    if args.screenshot:
        window.resize(*SCREENSHOT_SIZE)
    window.show()
    if args.screenshot:
        from visioncap_desktop.screenshot import ScreenshotDriver

        driver = ScreenshotDriver(window, args.folder, Path(args.screenshot), args.timeout)
        QTimer.singleShot(0, driver.start)
    else:
        folder = args.folder or settings.get("last_folder")
        if folder and Path(folder).is_dir():
            QTimer.singleShot(0, lambda: window.open_folder(folder))
        elif args.folder:
            QTimer.singleShot(0, lambda: window.open_folder(args.folder))  # says what is wrong
    code = app.exec()
    window.shutdown()
    if args.screenshot:
        return driver.exit_code
    return code
