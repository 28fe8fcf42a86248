"""visioncap_desktop.batch_edit: the text work of batch edits, without Qt."""

from __future__ import annotations

import pytest

from visioncap_desktop.batch_edit import (
    PREVIEW_ROWS,
    BatchEdit,
    BatchEditError,
    MatchCount,
    compile_edit,
    count_steps,
    describe,
    normalise_whitespace,
)


def run(edit: BatchEdit, caption: str) -> str:
    return compile_edit(edit)(caption)


def count_matches(edit: BatchEdit, captions: list[str]) -> MatchCount:
    """count_steps run to the end at once (the dialog runs its steps in a SlicedJob)."""
    steps = count_steps(edit, captions)
    while True:
        try:
            next(steps)
        except StopIteration as stop:
            return stop.value


def test_plain_replace_is_literal_and_case_optional():
    edit = BatchEdit("replace", find="a.b", text=r"\1$&")
    assert run(edit, "A.B and axb") == r"\1$& and axb"  # nothing special in plain text, either side
    assert run(BatchEdit("replace", find="Dog", text="cat", case_sensitive=True), "dog Dog") == "dog cat"
    assert run(BatchEdit("replace", find="dog", text="cat"), "Dog DOG") == "cat cat"


def test_regex_replace_with_groups():
    edit = BatchEdit("replace", find=r"(\w+) (dog|cat)", text=r"\2 (\1)", regex=True)
    assert run(edit, "a brown dog") == "a dog (brown)"
    named = BatchEdit("replace", find=r"(?P<n>\d+)", text=r"#\g<n>", regex=True)
    assert run(named, "img 12") == "img #12"


@pytest.mark.parametrize(("find", "text", "problem"), [
    ("(", "", "Not a valid regular expression"),
    ("[a-", "", "Not a valid regular expression"),
    ("(a)", r"\2", "Not a valid replacement"),
    ("(a)", r"\g<nope>", "Not a valid replacement"),
    ("a", "\\", "Not a valid replacement"),
])
def test_bad_expressions_are_reported_not_raised_later(find, text, problem):
    with pytest.raises(BatchEditError, match=problem):
        compile_edit(BatchEdit("replace", find=find, text=text, regex=True))
    with pytest.raises(BatchEditError):
        count_matches(BatchEdit("replace", find=find, text=text, regex=True), ["a"])


def test_nothing_to_find_or_add():
    for edit in (BatchEdit("replace", find=""), BatchEdit("prefix"), BatchEdit("suffix")):
        with pytest.raises(BatchEditError):
            compile_edit(edit)


def test_empty_matches_insert_as_re_does_and_are_counted():
    start = BatchEdit("replace", find="^", text="ohwx, ", regex=True)
    assert run(start, "dog, cat") == "ohwx, dog, cat"
    assert count_matches(start, ["dog", "cat", ""]) == MatchCount(matches=2, captions=2)
    between = BatchEdit("replace", find="x*", text="-", regex=True)
    assert run(between, "ab") == "-a-b-"
    assert count_matches(between, ["ab"]) == MatchCount(matches=3, captions=1)


def test_empty_captions_are_left_alone():
    for edit in (BatchEdit("replace", find="^", text="x", regex=True), BatchEdit("prefix", text="x"),
                 BatchEdit("suffix", text="x")):
        assert run(edit, "") == ""


def test_prefix_and_suffix_are_added_once():
    prefix = compile_edit(BatchEdit("prefix", text="ohwx, "))
    assert prefix("dog") == "ohwx, dog"
    assert prefix(prefix("dog")) == "ohwx, dog"
    suffix = compile_edit(BatchEdit("suffix", text=", film grain"))
    assert suffix(suffix("dog")) == "dog, film grain"


def test_whitespace_and_unicode():
    assert normalise_whitespace("  a\tb\n\nc , d\u00a0 e  ") == "a b c, d e"
    assert run(BatchEdit("replace", find="ÄPFEL", text="Birnen"), "grüne äpfel, Äpfel") == "grüne Birnen, Birnen"
    greek = BatchEdit("replace", find=r"\bσ\w+", text="Σ", regex=True)
    assert run(greek, "σοφία ΣΟΦΙΑ") == "Σ Σ"  # case-insensitive by default, beyond ASCII
    assert run(BatchEdit(**{**greek.__dict__, "case_sensitive": True}), "σοφία ΣΟΦΙΑ") == "Σ ΣΟΦΙΑ"
    emoji = BatchEdit("replace", find="🐶", text="dog")
    assert count_matches(emoji, ["🐶🐶", "cat"]) == MatchCount(matches=2, captions=1)


def test_count_matches_counts_matches_and_changed_captions():
    edit = BatchEdit("replace", find="dog", text="cat")
    assert count_matches(edit, ["dog dog", "cat", "a dog", ""]) == MatchCount(matches=3, captions=2)
    assert count_matches(BatchEdit("replace", find="dog", text="dog"), ["dog"]) == MatchCount(1, 0)
    assert count_matches(BatchEdit("whitespace"), [" a", "b", "c  d"]) == MatchCount(0, 2)
    assert count_matches(BatchEdit("sort_tags"), ["b, a", "a, b"]) == MatchCount(0, 1)


def test_descriptions_and_unknown_operation():
    assert describe(BatchEdit("replace", find="a", text="b")) == "Replace “a” with “b”"
    assert describe(BatchEdit("prefix", text="ohwx, ")) == "Add prefix “ohwx, ”"
    with pytest.raises(BatchEditError):
        compile_edit(BatchEdit("shout"))


def test_prefix_and_suffix_put_a_separator_between_never_twice():
    # issue 24: "mytrigger" glued onto the first tag ("mytriggerlandscape")
    prefix = compile_edit(BatchEdit("prefix", text="mytrigger"))
    assert prefix("landscape, sky") == "mytrigger, landscape, sky"
    assert prefix(prefix("landscape, sky")) == "mytrigger, landscape, sky"
    assert prefix("mytrigger,landscape") == "mytrigger,landscape"  # already its first tag
    assert prefix("mytriggerlandscape") == "mytrigger, mytriggerlandscape"  # another word, not the tag
    assert prefix("mytrigger") == "mytrigger"
    # the separator typed into the text too is not doubled
    assert compile_edit(BatchEdit("prefix", text="ohwx, "))("dog") == "ohwx, dog"
    assert compile_edit(BatchEdit("suffix", text=", film grain"))("dog") == "dog, film grain"
    spaced = compile_edit(BatchEdit("suffix", text="best quality", separator=" | "))
    assert spaced(spaced("dog")) == "dog | best quality"
    glued = compile_edit(BatchEdit("prefix", text="sks", separator=""))
    assert glued("dog") == "sksdog" and glued("sksdog") == "sksdog"
    with pytest.raises(BatchEditError):
        compile_edit(BatchEdit("prefix", text=" , "))  # only a separator: nothing to add


def test_remove_duplicate_tags_and_keep_the_first_n():
    dedupe = compile_edit(BatchEdit("dedupe_tags"))
    assert dedupe("dog, Cat, dog, cat ,  bird") == "dog, Cat, bird"
    assert dedupe("dog,cat") == "dog,cat"  # nothing repeated: the caption as it was
    assert dedupe("a dog runs on the beach") == "a dog runs on the beach"
    first = compile_edit(BatchEdit("keep_first", count=2))
    assert first("a, b, c, d") == "a, b" and first("a,b") == "a,b" and first("") == ""
    with pytest.raises(BatchEditError, match="at least one"):
        compile_edit(BatchEdit("keep_first", count=0))
    assert describe(BatchEdit("keep_first", count=1)) == "Keep only the first tag"
    assert describe(BatchEdit("keep_first", count=3)) == "Keep the first 3 tags"
    assert describe(BatchEdit("dedupe_tags")) == "Remove duplicate tags"


def test_the_count_shows_the_first_changes_before_and_after():
    captions = [f"tag{i}, tag{i}" for i in range(8)] + ["single"]
    count = count_matches(BatchEdit("dedupe_tags"), captions)
    assert count.captions == 8 and len(count.examples) == PREVIEW_ROWS
    assert count.examples[0] == ("tag0, tag0", "tag0")
