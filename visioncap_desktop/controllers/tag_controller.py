"""Tags over the open folder: their counts (over every image, or over those the filter shows),
the known tags the caption editors complete, and the requests to rename, delete or move a tag
in every caption.

Counting runs in slices (visioncap_desktop.sliced) COUNT_DELAY_MS after the captions last
changed, so a scan or a run that changes captions many times a second counts once at the end.
The changes themselves are batch edits: `edit_requested` carries a caption function and its
undo text, and the window hands it to the batch edit controller (one undo step).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Generator

from PySide6.QtCore import QObject, QTimer, Signal

from visioncap_desktop import tags
from visioncap_desktop.gallery.item_model import GalleryModel
from visioncap_desktop.gc_pauses import pause_collections, resume_collections
from visioncap_desktop.records import ImageRecord
from visioncap_desktop.sliced import SlicedJob

COUNT_DELAY_MS = 400
COUNT_STEP = 500  # captions per step
TAG_SCOPES = ("all", "filtered")


def count_steps(records: list[ImageRecord]) -> Generator[None, None, tuple[Counter[str], int]]:
    """tags.tag_counts of the records' captions in steps of COUNT_STEP records."""
    counts: Counter[str] = Counter()
    sentences = 0
    for start in range(0, len(records), COUNT_STEP):
        part, part_sentences = tags.tag_counts(r.caption for r in records[start:start + COUNT_STEP])
        counts.update(part)
        sentences += part_sentences
        yield
    return counts, sentences


class TagController(QObject):
    counts_changed = Signal(object, int)  # Counter of tags in the panel's scope, sentence captions
    known_tags_changed = Signal(list)  # every tag of the folder, most used first: for autocompletion
    edit_requested = Signal(object, str)  # caption -> caption function, undo text: for all captions
    status = Signal(str, int)

    def __init__(self, gallery_model: GalleryModel, scope_records: Callable[[str], list[ImageRecord]],
                 parent: QObject | None = None):
        """`scope_records("all" | "filtered")`: the records of the folder, or those shown."""
        super().__init__(parent)
        self._model = gallery_model
        self._scope_records = scope_records
        self.scope = "all"
        self.counts: Counter[str] = Counter()
        self.known: list[str] = []
        self._job: SlicedJob | None = None
        self._timer = QTimer(self, singleShot=True, interval=COUNT_DELAY_MS)
        self._timer.timeout.connect(self.count_now)
        gallery_model.records_changed.connect(self.schedule_count)
        gallery_model.counts_changed.connect(self.schedule_count)

    def set_scope(self, scope: str) -> None:
        if scope not in TAG_SCOPES:
            raise ValueError(f"tag scope must be one of {TAG_SCOPES}, got {scope!r}")
        self.scope = scope
        self.count_now()

    def on_filter_changed(self) -> None:
        if self.scope == "filtered":
            self.schedule_count()

    def schedule_count(self) -> None:
        self._timer.start()  # restarted: counted once the captions stop changing

    @property
    def counting(self) -> bool:
        return self._timer.isActive() or self._job is not None

    def count_now(self) -> None:
        """Count the folder's tags (and the filter's, when that is the scope) in slices."""
        self._timer.stop()
        if self._job is not None:
            self._job.cancel()
            self._job.deleteLater()
        else:
            pause_collections()  # as batch edits do: see gc_pauses
        every_record = self._model.records()
        shown = self._scope_records("filtered") if self.scope == "filtered" else None

        def steps():
            every = yield from count_steps(every_record)
            return every, (yield from count_steps(shown)) if shown is not None else every

        self._job = SlicedJob(steps(), self)
        self._job.finished.connect(self._on_counted)
        self._job.start()

    def stop(self) -> None:
        """Drop a count in progress (the window is closing)."""
        self._timer.stop()
        if self._job is not None:
            self._job.cancel()
            self._job.deleteLater()
            self._job = None
            resume_collections()

    def _on_counted(self, result) -> None:
        (every, _), (counts, sentences) = result
        self._job.deleteLater()
        self._job = None
        resume_collections()
        self.counts = counts
        self.counts_changed.emit(counts, sentences)
        # at the next turn of the event loop: filling the panel and sorting the known tags of
        # 100,000 unique tags would together stall the window for longer than either
        QTimer.singleShot(0, self, lambda: self._update_known(every))

    def _update_known(self, every: Counter[str]) -> None:
        known = tags.known_tags(every)
        if known != self.known:
            self.known = known
            self.known_tags_changed.emit(known)

    # --- changes in every caption -------------------------------------------------------------

    def rename_tag(self, old: str, new: str) -> None:
        new = new.strip()
        if not new or new == old:
            return
        if tags.SEPARATOR in new:
            self.status.emit(f"A tag cannot hold a comma: “{new}” would be two tags.", 8000)
            return
        self.edit_requested.emit(lambda caption: tags.rename_tag(caption, old, new), f"Rename tag “{old}” to “{new}”")

    def delete_tag(self, tag: str) -> None:
        self.edit_requested.emit(lambda caption: tags.delete_tag(caption, tag), f"Delete tag “{tag}”")

    def move_tag_to_front(self, tag: str) -> None:
        self.edit_requested.emit(lambda caption: tags.move_tag_to_front(caption, tag), f"Move tag “{tag}” to the front")
