import json
import shutil
import subprocess
import sys

from core.fingerprint import fingerprint
from tests.app.images import make_images
from visioncap_desktop.reattach import (
    Reattachment,
    StoreCandidate,
    apply_reattachment,
    candidate_stores,
    find_moved_store,
    find_renames,
)
from visioncap_desktop.store import CaptionStore, parse_store


def test_a_renamed_file_takes_its_entry():
    files = {"renamed.jpg": "fp1", "same.jpg": "fp2", "new.jpg": "fp9"}
    entries = {"old.jpg": "fp1", "same.jpg": "fp2", "vanished.jpg": "fp3"}
    renames = find_renames(files, entries)
    assert renames == {"renamed.jpg": "old.jpg"}  # the app moves the entry (test_a_renamed_photo_keeps_its_caption)


def test_ambiguous_copies_are_left_alone():
    # two identical photos renamed at once, or one entry two new files could take
    assert find_renames({"x.jpg": "fp", "y.jpg": "fp"}, {"a.jpg": "fp"}) == {}
    assert find_renames({"x.jpg": "fp"}, {"a.jpg": "fp", "b.jpg": "fp"}) == {}
    # an entry whose file is still there is not a rename, even with the same content
    assert find_renames({"a.jpg": "fp", "copy.jpg": "fp"}, {"a.jpg": "fp"}) == {}


def test_entries_whose_files_vanished_are_never_dropped():
    entries = {"gone.jpg": "caption", "here.jpg": "other"}
    assert find_renames({"here.jpg": "fp2"}, {"gone.jpg": "fp1", "here.jpg": "fp2"}) == {}
    reattached = apply_reattachment(entries, {"x.jpg": "from there"}, Reattachment(None, "/old", {"new.jpg": "x.jpg"}))
    assert reattached == {"gone.jpg": "caption", "here.jpg": "other", "new.jpg": "from there"}


def candidate(name, fingerprints):
    return StoreCandidate(path=name, folder=f"/old/{name}", fingerprints=fingerprints)


def test_moved_folder_finds_the_store_that_matches_most():
    files = {"a.jpg": "1", "b.jpg": "2", "c.jpg": "3", "renamed.jpg": "4"}
    weak = candidate("weak", {"a.jpg": "1"})
    strong = candidate("strong", {"a.jpg": "1", "b.jpg": "2", "c.jpg": "3", "d.jpg": "4", "e.jpg": "5"})
    found = find_moved_store(files, {}, [weak, strong])
    assert found.store == "strong"
    assert found.names == {"a.jpg": "a.jpg", "b.jpg": "b.jpg", "c.jpg": "c.jpg", "renamed.jpg": "d.jpg"}
    assert found.message() == "re-attached 4 captions from /old/strong"


def test_no_reattachment_when_the_folder_has_its_own_captions_or_too_few_match():
    files = {f"{i}.jpg": str(i) for i in range(10)}
    other = candidate("other", {f"{i}.jpg": str(i) for i in range(10)})
    own = {f"{i}.jpg": str(i) for i in range(6)}
    assert find_moved_store(files, own, [other]) is None  # most files have their own entry
    few = candidate("few", {"0.jpg": "0", "1.jpg": "1"})
    assert find_moved_store(files, {}, [few]) is None  # 2 of 10 is not "mostly"
    assert find_moved_store({}, {}, [other]) is None


def test_reattachment_never_replaces_an_entry_the_folder_has():
    result = apply_reattachment({"a.jpg": "mine"}, {"a.jpg": "theirs", "b.jpg": "b"},
                                Reattachment(None, "/x", {"a.jpg": "a.jpg", "b.jpg": "b.jpg"}))
    assert result == {"a.jpg": "mine", "b.jpg": "b"}


def write_store_with_fingerprints(store: CaptionStore, folder, captions):
    """A store as the app will save it once records carry fingerprints (an extra entry key,
    which today's parse_store already ignores)."""
    images = {
        name: {"caption": caption, "state": "edited", "model": "", "error": "",
               "fingerprint": fingerprint(folder / name)}
        for name, caption in captions.items()
    }
    store.path.parent.mkdir(parents=True, exist_ok=True)
    store.path.write_text(json.dumps({"format": "visioncap-captions", "version": 1, "folder": str(folder),
                                      "images": images}), encoding="utf-8")


def test_moved_and_renamed_folder_is_reattached_end_to_end(tmp_path):
    root = tmp_path / "captions"  # what paths.captions_dir() is in the app
    old = tmp_path / "Pictures" / "trip"
    paths = make_images(old, 6, size=(48, 36))
    captions = {p.name: f"caption {i} ü" for i, p in enumerate(paths)}
    old_store = CaptionStore(old, root)
    write_store_with_fingerprints(old_store, old, captions)
    stored_bytes = old_store.path.read_bytes()
    assert {n: s.caption for n, s in parse_store(json.loads(stored_bytes)).items()} == captions

    new = tmp_path / "Archive" / "2024 trip"
    new.parent.mkdir()
    shutil.move(old, new)
    (new / paths[0].name).rename(new / "renamed on the way.jpg")
    (tmp_path / "unrelated").mkdir()
    unrelated = make_images(tmp_path / "unrelated", 2, start=50)
    write_store_with_fingerprints(CaptionStore(tmp_path / "unrelated", root), tmp_path / "unrelated",
                                  {p.name: "x" for p in unrelated})
    (root / "broken-0000.json").write_text("{not json", encoding="utf-8")

    new_store = CaptionStore(new, root)
    files = {p.name: fingerprint(p) for p in new.iterdir()}
    candidates = list(candidate_stores(root, exclude=new_store.path))
    assert {c.folder for c in candidates} == {str(old), str(tmp_path / "unrelated")}
    found = find_moved_store(files, {}, candidates)
    assert found is not None and found.folder == str(old) and len(found.names) == 6
    other = {n: s.caption for n, s in parse_store(json.loads(stored_bytes)).items()}
    reattached = apply_reattachment({}, other, found)
    assert reattached["renamed on the way.jpg"] == captions[paths[0].name]
    assert {n: reattached[n] for n in captions if n != paths[0].name} == {
        n: c for n, c in captions.items() if n != paths[0].name}
    assert old_store.path.read_bytes() == stored_bytes  # the other store is never changed


def test_candidate_stores_skip_own_corrupt_and_fingerprintless(tmp_path):
    captions_dir = tmp_path / "captions"
    captions_dir.mkdir()
    own = captions_dir / "own-1.json"
    body = {"format": "visioncap-captions", "version": 1, "folder": "/f",
            "images": {"a.jpg": {"caption": "c", "fingerprint": "v1:x"}}}
    for name in ("own-1.json", "x.corrupt-20240101-000000.json", "good-2.json"):
        (captions_dir / name).write_text(json.dumps(body), encoding="utf-8")
    old_style = dict(body, images={"a.jpg": {"caption": "c"}})
    (captions_dir / "old-3.json").write_text(json.dumps(old_style), encoding="utf-8")
    assert [c.path.name for c in candidate_stores(captions_dir, exclude=own)] == ["good-2.json"]


def test_reattach_is_qt_free():
    code = "import sys, visioncap_desktop.reattach; print(any(m.startswith('PySide6') for m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
