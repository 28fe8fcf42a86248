import json
import os
import stat
from pathlib import Path

import pytest

from core.csvio import write_csv_atomic
from core.fingerprint import FileState, file_state
from core.metadata.caption_io import (
    Action,
    FoundCaption,
    Source,
    StoredCaption,
    find_captions,
    load_table,
    reconcile,
    source_key,
)
from core.metadata.caption_writes import (
    KEPT,
    NOT_WRITTEN,
    SIDECAR_INSTEAD,
    UNCHANGED,
    WRITTEN,
    WriteItem,
    WriteOptions,
    write_captions,
)
from core.metadata.jsonl_captions import read_jsonl
from core.metadata.photo_metadata import read_embedded
from core.metadata.sidecars import read_sidecar, write_sidecar
from tests.core.photos import make_photo, pixels

SECOND = 1_000_000_000


def test_find_captions_in_order_of_preference(tmp_path):
    (tmp_path / "elsewhere").mkdir()
    photo = make_photo(tmp_path / "a.jpg", xmp_description={"x-default": "embedded"})
    (tmp_path / "a.txt").write_text("from txt", encoding="utf-8")
    write_sidecar(photo, "from lightroom", "photo.xmp")
    write_sidecar(tmp_path / "elsewhere" / "a.jpg", "from darktable")  # a sidecar made elsewhere, moved in
    (tmp_path / "elsewhere" / "a.jpg.xmp").rename(tmp_path / "a.jpg.xmp")
    csv_path = tmp_path / "captions.csv"
    write_csv_atomic(csv_path, ("path", "caption", "error"), [{"path": "a.jpg", "caption": "from csv"}])
    findings = find_captions(photo, "a.jpg", [load_table(csv_path, tmp_path)])
    assert [(f.source, f.text) for f in findings.found] == [
        (Source.CSV, "from csv"),
        (Source.TXT, "from txt"),
        (Source.SIDECAR, "from darktable"),
        (Source.SIDECAR, "from lightroom"),
        (Source.EMBEDDED, "embedded"),
    ]
    assert findings.best.file == csv_path
    assert findings.found[-1].detail == "XMP dc:description"
    assert findings.found[1].state.size == len("from txt")
    assert not findings.problems


def test_unreadable_files_are_problems_and_the_rest_is_still_read(tmp_path):
    photo = make_photo(tmp_path / "a.jpg", exif_description="embedded")
    (tmp_path / "a.jpg.xmp").write_bytes(b"garbage")
    findings = find_captions(photo, "a.jpg")
    assert [f.text for f in findings.found] == ["embedded"]
    assert len(findings.problems) == 1 and "a.jpg.xmp" in findings.problems[0]
    broken = tmp_path / "b.jpg"
    broken.write_bytes(b"\xff\xd8 nope")
    assert find_captions(broken, "b.jpg").found == []


def test_jsonl_table(tmp_path):
    (tmp_path / "metadata.jsonl").write_text(json.dumps({"file_name": "sub/a.png", "text": "hf"}) + "\n")
    table = load_table(tmp_path / "metadata.jsonl", tmp_path)
    assert table.source is Source.JSONL and table.captions == {"sub/a.png": "hf"}


# ---- the conflict rule ---------------------------------------------------------------------


def found(text, mtime_s, file="a.txt", size=None, fp=None, folder=Path("/photos")):
    state = FileState(size if size is not None else len(text), mtime_s * SECOND, fp or f"v1:{text}")
    return FoundCaption(text, Source.TXT, folder / file, state)


FOLDER = Path("/photos")


def test_nothing_found_keeps_the_store():
    assert reconcile(StoredCaption("mine", 10 * SECOND), [], FOLDER).action is Action.KEEP


def test_no_caption_in_store_takes_the_most_preferred():
    first, second = found("one", 5), found("two", 50, "a.jpg.xmp")
    for stored in (None, StoredCaption("", 0)):
        decision = reconcile(stored, [first, second], FOLDER)
        assert decision.action is Action.TAKE and decision.found is first and not decision.conflict


def test_agreeing_files_are_in_sync():
    same = found("mine", 500)
    decision = reconcile(StoredCaption("mine", 10 * SECOND), [same], FOLDER)
    assert decision.action is Action.KEEP and decision.in_sync == (same,) and not decision.conflict


def test_a_file_already_seen_never_overrides_a_later_edit_even_when_copied():
    txt = found("imported", 100)
    # the store saw this file; the folder was copied since, so its mtime is new
    stored = StoredCaption("edited after import", 50 * SECOND,
                           {"a.txt": FileState(txt.state.size, 1 * SECOND, txt.state.fingerprint)})
    decision = reconcile(stored, [txt], FOLDER)
    assert decision.action is Action.KEEP and not decision.conflict


def test_a_file_changed_since_and_newer_wins_and_says_so():
    stored = StoredCaption("mine", 10 * SECOND, {"a.txt": FileState(3, 5 * SECOND, "v1:old")})
    newer = found("edited in another tool", 20)
    decision = reconcile(stored, [newer], FOLDER)
    assert decision.action is Action.TAKE and decision.found is newer and decision.conflict
    assert "took the caption from a.txt" in decision.message("a.jpg") and "Undo" in decision.message("a.jpg")


def test_a_file_changed_since_but_older_loses_and_says_so():
    older = found("something else", 5)
    agree = found("mine", 6, "a.jpg.xmp")
    decision = reconcile(StoredCaption("mine", 10 * SECOND), [older, agree], FOLDER)
    assert decision.action is Action.KEEP and decision.found is older and decision.conflict
    assert decision.in_sync == (agree,)
    assert "kept VisionCap's caption" in decision.message("a.jpg")


def test_the_newest_of_several_changed_files_is_the_one_that_counts():
    txt, sidecar = found("from txt", 20), found("from sidecar", 30, "a.jpg.xmp")
    decision = reconcile(StoredCaption("mine", 10 * SECOND), [txt, sidecar], FOLDER)
    assert decision.action is Action.TAKE and decision.found is sidecar


def test_source_key_is_relative_inside_the_folder():
    assert source_key(Path("/photos/sub/a.txt"), Path("/photos")) == "sub/a.txt"
    assert source_key(Path("/elsewhere/c.csv"), Path("/photos")) == str(Path("/elsewhere/c.csv"))


# ---- writing out ---------------------------------------------------------------------------


def items(*triples):
    return [WriteItem(Path(p), name, caption) for p, name, caption in triples]


def statuses(report, way):
    return {o.target.name: o.status for o in report.outcomes if o.way == way}


def test_write_every_way(tmp_path):
    jpg = make_photo(tmp_path / "a.jpg", iptc={"Iptc.Application2.City": "Oslo"})
    (tmp_path / "sub").mkdir()
    png = make_photo(tmp_path / "sub" / "b.png")
    bmp = make_photo(tmp_path / "c.bmp")
    todo = items((jpg, "a.jpg", "caption a"), (png, "sub/b.png", "caption b"), (bmp, "c.bmp", "caption c"),
                 (tmp_path / "d.jpg", "d.jpg", ""))  # no caption: left out
    png_pixels = pixels(png)
    report = write_captions(todo, WriteOptions(ways=("xmp", "embed", "txt", "jsonl")))
    assert report.ok, report.summary()
    assert read_sidecar(tmp_path / "a.jpg.xmp").text == "caption a"
    assert read_embedded(jpg).text == "caption a" and read_embedded(png).text == "caption b"
    assert pixels(png) == png_pixels
    assert (tmp_path / "sub" / "b.txt").read_text(encoding="utf-8") == "caption b"
    assert read_jsonl(tmp_path / "metadata.jsonl") == {"a.jpg": "caption a", "sub/b.png": "caption b",
                                                       "c.bmp": "caption c"}
    assert [o.image for o in report.where(SIDECAR_INSTEAD)] == [bmp]
    assert "sidecar instead of embedding" in report.summary() and "c.bmp" in report.summary()
    assert report.states[jpg].size == jpg.stat().st_size
    assert not (tmp_path / "d.txt").exists()
    again = write_captions(todo, WriteOptions(ways=("xmp", "embed", "txt", "jsonl")))
    assert {o.status for o in again.outcomes if o.way != "embed" or o.image != bmp} == {UNCHANGED}


def test_embed_only_gives_unwritable_formats_a_sidecar_in_the_chosen_naming(tmp_path):
    gif = make_photo(tmp_path / "anim.gif")
    report = write_captions(items((gif, "anim.gif", "a gif")), WriteOptions(ways=("embed",), sidecar_naming="photo.xmp"))
    assert read_sidecar(tmp_path / "anim.xmp").text == "a gif"
    assert statuses(report, "xmp") == {"anim.xmp": WRITTEN} and statuses(report, "embed") == {"anim.gif": SIDECAR_INSTEAD}


def test_read_only_photo_reported_never_half_written_and_the_rest_goes_on(tmp_path):
    locked = make_photo(tmp_path / "locked.jpg")
    free = make_photo(tmp_path / "free.jpg", seed=1)
    original = locked.read_bytes()
    locked.chmod(stat.S_IRUSR)
    try:
        report = write_captions(items((locked, "locked.jpg", "x"), (free, "free.jpg", "y")), WriteOptions(ways=("embed",)))
    finally:
        locked.chmod(0o644)
    assert statuses(report, "embed") == {"locked.jpg": NOT_WRITTEN, "free.jpg": WRITTEN} and not report.ok
    assert locked.read_bytes() == original
    assert read_embedded(free).text == "y"
    assert "read-only" in report.summary() and "locked.jpg" in report.summary()


def test_two_photos_sharing_a_caption_file_are_reported(tmp_path):
    a, b = make_photo(tmp_path / "p.jpg"), make_photo(tmp_path / "p.png")
    report = write_captions(items((a, "p.jpg", "jpg"), (b, "p.png", "png")), WriteOptions(ways=("txt",)))
    assert not (tmp_path / "p.txt").exists()  # it would belong to both
    assert [o.status for o in report.outcomes] == [NOT_WRITTEN, NOT_WRITTEN]
    assert "would also belong to p.png" in report.outcomes[0].reason


def test_a_caption_someone_wrote_is_kept_unless_replacing_was_asked(tmp_path):
    photo = make_photo(tmp_path / "a.jpg")
    (tmp_path / "a.txt").write_text("written by hand", encoding="utf-8")
    report = write_captions(items((photo, "a.jpg", "model")), WriteOptions(ways=("txt",)))
    assert statuses(report, "txt") == {"a.txt": KEPT} and report.ok
    assert (tmp_path / "a.txt").read_text(encoding="utf-8") == "written by hand"
    known = {tmp_path / "a.txt": file_state(tmp_path / "a.txt")}  # the app knows it: the user edited it
    report = write_captions([WriteItem(photo, "a.jpg", "edited", known=known)], WriteOptions(ways=("txt",)))
    assert statuses(report, "txt") == {"a.txt": WRITTEN}
    (tmp_path / "a.txt").write_text("changed again by hand", encoding="utf-8")
    report = write_captions([WriteItem(photo, "a.jpg", "edited again", known=known)], WriteOptions(ways=("txt",)))
    assert statuses(report, "txt") == {"a.txt": KEPT}
    report = write_captions(items((photo, "a.jpg", "model")), WriteOptions(ways=("txt",), existing="replace"))
    assert (tmp_path / "a.txt").read_text(encoding="utf-8") == "model"


def test_a_photo_changed_since_it_was_captioned_gets_nothing(tmp_path):
    photo = make_photo(tmp_path / "a.jpg")
    state = file_state(photo)
    make_photo(photo, seed=5)  # another photo under the same name
    report = write_captions([WriteItem(photo, "a.jpg", "old photo's caption", photo_state=state)],
                            WriteOptions(ways=("xmp", "embed", "txt")))
    assert {o.status for o in report.outcomes} == {NOT_WRITTEN} and "changed since" in report.outcomes[0].reason
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.jpg"]


def test_cancel_stops_between_images(tmp_path):
    photos = [make_photo(tmp_path / f"{i}.jpg", seed=i) for i in range(3)]
    seen = []
    report = write_captions(
        items(*((p, p.name, "c") for p in photos)), WriteOptions(ways=("txt",)),
        progress=seen.append, cancelled=lambda: len(seen) >= 2)
    assert seen == [1, 2] and len(report.where(WRITTEN, "txt")) == 2


def test_unknown_way_or_policy_is_refused():
    with pytest.raises(ValueError, match="unknown ways"):
        WriteOptions(ways=("exif",))
    with pytest.raises(ValueError, match="existing"):
        WriteOptions(existing="overwrite")


def test_failed_file_does_not_stop_the_run(tmp_path):
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8 nope")
    good = make_photo(tmp_path / "good.jpg")
    report = write_captions(items((broken, "broken.jpg", "x"), (good, "good.jpg", "y")), WriteOptions(ways=("embed",)))
    assert statuses(report, "embed") == {"broken.jpg": SIDECAR_INSTEAD, "good.jpg": WRITTEN}
    assert "structure cannot be followed" in report.where(SIDECAR_INSTEAD)[0].reason
    assert broken.read_bytes() == b"\xff\xd8 nope"
    assert sorted(os.listdir(tmp_path)) == ["broken.jpg", "broken.jpg.xmp", "good.jpg"]  # no temporary file left


def test_a_persons_caption_written_out_stays_theirs(tmp_path):
    photo = make_photo(tmp_path / "a.jpg")
    person = write_captions([WriteItem(photo, "a.jpg", "typed by a person", by_model=False)],
                            WriteOptions(ways=("embed", "xmp")))
    assert {o.status for o in person.outcomes} == {WRITTEN}
    assert read_embedded(photo).text == "typed by a person" and not read_embedded(photo).own
    assert not read_sidecar(tmp_path / "a.jpg.xmp").own
    model = write_captions(items((photo, "a.jpg", "the model's")), WriteOptions(ways=("embed", "xmp")))
    assert {o.status for o in model.outcomes} == {KEPT}  # a later run keeps the person's caption
    assert read_embedded(photo).text == "typed by a person"
    write_captions(items((photo, "a.jpg", "the model's")), WriteOptions(ways=("embed",)))  # still kept
    mine = write_captions(items((photo, "a.jpg", "mine")), WriteOptions(ways=("embed",), existing="replace"))
    assert [o.status for o in mine.outcomes] == [WRITTEN] and read_embedded(photo).own


def test_a_dry_run_reports_what_a_write_would_do_and_writes_nothing(tmp_path):
    photo = make_photo(tmp_path / "a.jpg")
    gif = make_photo(tmp_path / "b.gif")
    (tmp_path / "a.txt").write_text("by hand", encoding="utf-8")
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    todo = items((photo, "a.jpg", "caption a"), (gif, "b.gif", "caption b"))
    report = write_captions(todo, WriteOptions(ways=("xmp", "embed", "txt", "jsonl")), dry_run=True)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before  # not one byte written
    assert report.dry_run and not report.states
    assert statuses(report, "embed") == {"a.jpg": WRITTEN, "b.gif": SIDECAR_INSTEAD}
    assert statuses(report, "txt") == {"a.txt": KEPT, "b.txt": WRITTEN}
    assert statuses(report, "xmp") == {"a.jpg.xmp": WRITTEN, "b.gif.xmp": WRITTEN}
    assert statuses(report, "jsonl") == {"metadata.jsonl": WRITTEN}
    assert report.summary().startswith("would write ")
    real = write_captions(todo, WriteOptions(ways=("xmp", "embed", "txt", "jsonl")))
    assert [(o.way, o.target, o.status) for o in real.outcomes] == [(o.way, o.target, o.status) for o in report.outcomes]
