"""Thumbnails decoded off the GUI thread, cached in memory (LRU) and on disk.

Tasks run in a QThreadPool and build only QImages (QPixmap is GUI-thread only); the loader turns
them into QPixmaps. Requests come from painting, so only visible rows are decoded (nothing is
prefetched off screen). Waiting requests are served newest first and the oldest are dropped, so
scrolling quickly through 10,000 images decodes what is on screen now, not everything that flew
past. While the model captions, the pool shrinks to one thread (`set_captioning`), so
thumbnails never starve the model and visible rows still fill in. The gallery's loader and the
model share JPEG decodes (`core.images.reading.SharedDecodes`): whichever reaches a photo first decodes
it with core's reader, and the other takes that decode instead of decoding the file again.

The size can change while the app runs (the gallery's zoom): a pixmap made for at least the
current size is used as is (the delegate scales it down on paint); a smaller one is still shown
while its larger replacement is decoded.

Disk cache: <cache>/thumbnails/<2 hex>/<sha1 of path, mtime, size, thumbnail size>.jpg, so an
edited or replaced file gets a new thumbnail. The original dimensions travel in the JPEG's text.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections import OrderedDict
from pathlib import Path

from PySide6.QtCore import QObject, QRunnable, QSize, Qt, QThreadPool, Signal
from PySide6.QtGui import QColor, QImage, QImageIOHandler, QImageReader, QPainter, QPixmap

from core.captioning.threads import thumbnail_threads, usable_cpus
from core.images.plugins import PLUGIN_EXTENSIONS, extension
from core.images.reading import SharedDecodes

log = logging.getLogger(__name__)

THUMBNAIL_SIZE = 128
JPEG_EXTENSIONS = frozenset({".jpg", ".jpeg", ".jpe", ".jfif"})
DECODE_SIZES = (128, 256, 384)  # the sizes the gallery decodes at (few, so the disk cache is shared)
CACHE_FORMAT_VERSION = "1"  # part of the disk key: bump when the thumbnail look changes
DISK_CACHE_MAX_BYTES = 1 << 30  # about 200,000 thumbnails
_SIZE_TEXT_KEY = "visioncap-size"


def decode_size_for(side: int) -> int:
    """The decode size for thumbnails shown `side` device pixels wide: the smallest of
    DECODE_SIZES that is at least `side`, else the largest."""
    return next((size for size in DECODE_SIZES if size >= side), DECODE_SIZES[-1])


def disk_cache_file(cache_dir: Path, path: str, size: int) -> Path | None:
    """Where `path`'s thumbnail is cached, or None if the file cannot be stat-ed."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    key = f"{CACHE_FORMAT_VERSION}|{os.path.abspath(path)}|{st.st_mtime_ns}|{st.st_size}|{size}"
    digest = hashlib.sha1(key.encode("utf-8", "surrogatepass")).hexdigest()
    return cache_dir / digest[:2] / f"{digest}.jpg"


def _pil_decode(path: str, size: int, shared: SharedDecodes | None = None) -> tuple[QImage, QSize, str]:
    """Decode with core's reader (what Qt cannot read: HEIC, AVIF, camera RAW, huge PNGs; and
    JPEGs whose decode is shared with the model); its errors name the reason."""
    from core.errors import ImageError
    from core.images.reading import load_image_sized

    try:
        image, (width, height) = load_image_sized(path, min_size=size, shared=shared)
    except ImageError as exc:
        return QImage(), QSize(), exc.reason
    image.thumbnail((size, size))
    data = image.tobytes()
    qimage = QImage(data, image.width, image.height, 3 * image.width, QImage.Format.Format_RGB888)
    return qimage.copy(), QSize(width, height), ""  # copy: the QImage must not outlive `data`


def decode_thumbnail(path: str, size: int, shared: SharedDecodes | None = None) -> tuple[QImage, QSize, str]:
    """Read `path` scaled to fit size x size, EXIF orientation applied.

    Returns (image, original size as displayed, error reason or "").
    Qt reads the common formats; core's reader the rest (Qt would show a camera RAW file's
    tiny TIFF thumbnail as if it were the photo), and the JPEGs when their decode is `shared`
    with the model (as fast as Qt's: both decode at 1/8 scale with libjpeg-turbo).
    """
    kind = extension(path)
    if kind in PLUGIN_EXTENSIONS or (shared is not None and kind in JPEG_EXTENSIONS):
        return _pil_decode(path, size, shared)
    reader = QImageReader(path)
    reader.setAutoTransform(True)
    stored = reader.size()  # before the EXIF transformation
    if stored.isValid():
        if stored.width() > size or stored.height() > size:
            # JPEG decodes straight to about this size (DCT scaling): far faster than full size
            reader.setScaledSize(stored.scaled(size, size, Qt.AspectRatioMode.KeepAspectRatio))
        rotated = bool(reader.transformation() & QImageIOHandler.Transformation.TransformationRotate90)
        original = stored.transposed() if rotated else stored
    else:
        original = QSize()
    image = reader.read()
    if image.isNull():
        return _pil_decode(path, size)
    if image.width() > size or image.height() > size:
        image = image.scaled(size, size, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation)
    if not original.isValid():
        original = image.size()
    return image, original, ""


def _flatten(image: QImage) -> QImage:
    """Composite transparency on white (JPEG has no alpha; black would look broken)."""
    if not image.hasAlphaChannel():
        return image.convertToFormat(QImage.Format.Format_RGB32)
    flat = QImage(image.size(), QImage.Format.Format_RGB32)
    flat.fill(QColor("white"))
    painter = QPainter(flat)
    painter.drawImage(0, 0, image)
    painter.end()
    return flat


def load_or_make_thumbnail(
    path: str, size: int, cache_dir: Path | None, shared: SharedDecodes | None = None
) -> tuple[QImage, QSize, str]:
    """The disk-cached thumbnail if fresh, else decode it and cache it. Thread-safe."""
    cached = disk_cache_file(cache_dir, path, size) if cache_dir is not None else None
    if cached is not None and cached.is_file():
        image = QImage(str(cached))
        w, _, h = image.text(_SIZE_TEXT_KEY).partition("x")
        if not image.isNull() and w.isdigit() and h.isdigit():
            return image, QSize(int(w), int(h)), ""
    image, original, error = decode_thumbnail(path, size, shared)
    if cached is not None and not error:
        _write_cache(cached, _flatten(image), original)
    return image, original, error


def _write_cache(target: Path, image: QImage, original: QSize) -> None:
    image.setText(_SIZE_TEXT_KEY, f"{original.width()}x{original.height()}")
    tmp = target.with_name(f".{target.name}.{os.getpid()}.{id(image)}.tmp")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        if image.save(str(tmp), "JPG", 85):
            os.replace(tmp, target)  # readers see a whole file or none
    except OSError as exc:  # a full or read-only cache only costs speed
        log.debug("thumbnail cache write %s failed: %s", target, exc)
    finally:
        tmp.unlink(missing_ok=True)


def prune_disk_cache(cache_dir: Path, max_bytes: int = DISK_CACHE_MAX_BYTES) -> int:
    """Delete the oldest cached thumbnails until the cache is under 80% of `max_bytes` (once
    it is over). Returns the number of files deleted. Never raises."""
    files = []
    try:
        for sub in os.scandir(cache_dir):
            if sub.is_dir(follow_symlinks=False):
                with os.scandir(sub.path) as entries:
                    for entry in entries:
                        st = entry.stat(follow_symlinks=False)
                        files.append((st.st_mtime, st.st_size, entry.path))
    except OSError as exc:
        log.debug("thumbnail cache %s not pruned: %s", cache_dir, exc)
        return 0
    total = sum(size for _, size, _ in files)
    if total <= max_bytes:
        return 0
    deleted = 0
    for _, size, path in sorted(files):  # oldest first
        if total <= max_bytes * 0.8:
            break
        try:
            os.remove(path)
        except OSError:
            continue
        total -= size
        deleted += 1
    log.info("pruned %d thumbnails from %s", deleted, cache_dir)
    return deleted


class _PruneTask(QRunnable):
    def __init__(self, cache_dir: Path):
        super().__init__()
        self.cache_dir = cache_dir

    def run(self) -> None:
        prune_disk_cache(self.cache_dir)


class _TaskSignals(QObject):
    finished = Signal(str, QImage, int, int, str, int)  # path, image, original width, height, error, size


class _ThumbnailTask(QRunnable):
    def __init__(self, path: str, size: int, cache_dir: Path | None, signals: _TaskSignals,
                 shared: SharedDecodes | None = None):
        super().__init__()
        self.path, self.size, self.cache_dir, self.signals, self.shared = path, size, cache_dir, signals, shared

    def run(self) -> None:
        try:
            image, original, error = load_or_make_thumbnail(self.path, self.size, self.cache_dir, self.shared)
        except Exception as exc:  # never let a task die silently: the row would wait forever
            log.exception("thumbnail of %s failed", self.path)
            image, original, error = QImage(), QSize(), f"thumbnail failed: {exc}"
        self.signals.finished.emit(self.path, image, original.width(), original.height(), error, self.size)


class ThumbnailLoader(QObject):
    """Owned by the GUI thread. `pixmap(path)` answers from memory or schedules a decode and
    returns None; `thumbnail_ready(path)` follows when it is there (or has failed)."""

    thumbnail_ready = Signal(str, int, int)  # path, original width and height (0 if unknown)

    MAX_WAITING = 256  # more than a screenful; older requests have scrolled away

    def __init__(
        self,
        size: int = THUMBNAIL_SIZE,
        cache_dir: Path | None = None,
        memory_items: int = 1000,
        max_threads: int | None = None,
        shared_decodes: SharedDecodes | None = None,
        parent=None,
    ):
        """`memory_items`: how many pixmaps stay in memory at `size`; at a larger size (see
        set_size) proportionally fewer, so the memory they take stays about the same.
        `shared_decodes`: JPEG decodes shared with the model (the gallery's loader)."""
        super().__init__(parent)
        self.size = size
        self.cache_dir = cache_dir
        self.shared_decodes = shared_decodes
        self.memory_items = memory_items
        self._memory_pixels = memory_items * size * size
        self._pool = QThreadPool(self)
        self._max_threads = max_threads or thumbnail_threads(usable_cpus(), captioning=False)
        self._pool.setMaxThreadCount(self._max_threads)
        self._signals = _TaskSignals(self)
        self._signals.finished.connect(self._on_finished)
        self._pixmaps: OrderedDict[str, tuple[QPixmap, int]] = OrderedDict()  # LRU, newest last: (pixmap, size)
        self._waiting: OrderedDict[str, None] = OrderedDict()  # newest last
        self._running: set[str] = set()
        self._failures: dict[str, str] = {}
        if cache_dir is not None:
            self._pool.start(_PruneTask(cache_dir), -1)  # below every thumbnail

    def pixmap(self, path: str) -> QPixmap | None:
        """The pixmap of `path`, or None. One made for a smaller size is returned too, and its
        replacement at the current size requested."""
        entry = self._pixmaps.get(path)
        if entry is not None:
            self._pixmaps.move_to_end(path)
            if entry[1] < self.size and path not in self._failures:
                self.request(path)
            return entry[0]
        if path not in self._failures:
            self.request(path)
        return None

    def set_size(self, size: int) -> None:
        """Decode at `size` from now on. Pixmaps already made for this size or larger are kept
        as they are; requests waiting for the old size are dropped (painting asks again)."""
        if size == self.size:
            return
        self.size = size
        self._waiting.clear()
        self._trim_memory()

    def is_cached(self, path: str) -> bool:
        """Whether `pixmap(path)` would answer from memory at the current size (without
        scheduling anything)."""
        entry = self._pixmaps.get(path)
        return entry is not None and entry[1] >= self.size

    def cached_count(self) -> int:
        return len(self._pixmaps)

    def failure(self, path: str) -> str | None:
        return self._failures.get(path)

    def request(self, path: str) -> None:
        if path in self._running:
            return
        self._waiting[path] = None
        self._waiting.move_to_end(path)
        while len(self._waiting) > self.MAX_WAITING:
            self._waiting.popitem(last=False)
        self._dispatch()

    def forget_waiting(self) -> None:
        """Drop requests not started yet and forget failures (a folder was opened or reloaded:
        a file that failed may have been fixed)."""
        self._waiting.clear()
        self._failures.clear()

    def set_captioning(self, captioning: bool) -> None:
        """Decode with fewer threads while the model captions (one: see
        core.captioning.threads.thumbnail_threads), with all of them again after the run."""
        threads = self._max_threads
        if captioning:
            threads = min(threads, thumbnail_threads(usable_cpus(), captioning=True))
        self._pool.setMaxThreadCount(threads)
        self._dispatch()

    def max_threads(self) -> int:
        return self._pool.maxThreadCount()

    def is_idle(self) -> bool:
        return not self._waiting and not self._running

    def shutdown(self) -> None:
        """Drop waiting work and wait for running tasks; call before the app quits."""
        self._waiting.clear()
        self._pool.clear()
        self._pool.waitForDone()

    def _dispatch(self) -> None:
        # two tasks per thread keeps every thread busy without queueing stale work in the pool
        while self._waiting and len(self._running) < 2 * self._pool.maxThreadCount():
            path, _ = self._waiting.popitem(last=True)
            self._running.add(path)
            self._pool.start(_ThumbnailTask(path, self.size, self.cache_dir, self._signals, self.shared_decodes))

    def _on_finished(self, path: str, image: QImage, width: int, height: int, error: str, size: int) -> None:
        self._running.discard(path)
        if error:
            self._failures[path] = error
        else:
            old = self._pixmaps.get(path)
            if old is None or old[1] <= size:  # a late smaller one never replaces a larger one
                self._pixmaps[path] = (QPixmap.fromImage(image), size)
            self._pixmaps.move_to_end(path)
            self._trim_memory()
        self.thumbnail_ready.emit(path, width, height)
        self._dispatch()

    def _trim_memory(self) -> None:
        limit = max(1, self._memory_pixels // (self.size * self.size))
        while len(self._pixmaps) > limit:
            self._pixmaps.popitem(last=False)
