"""visioncap_desktop.tags: splitting, counting and changing comma-separated captions."""

from __future__ import annotations

from visioncap_desktop import tags


def test_split_and_join():
    assert tags.split_tags(" red car,street ,, night ") == ["red car", "street", "night"]
    assert tags.split_tags("a dog runs on the beach") == ["a dog runs on the beach"]
    assert tags.split_tags("") == []
    assert tags.split_tags(" , ") == []
    assert tags.join_tags(["a", "b c"]) == "a, b c"


def test_counts_count_each_caption_once_and_leave_sentences_out():
    counts, sentences = tags.tag_counts([
        "dog, cat, dog", "dog, grass", "a dog runs happily on the wide beach", "", "Dog",
    ])
    assert counts == {"dog": 2, "cat": 1, "grass": 1, "Dog": 1}
    assert sentences == 1
    assert tags.known_tags(counts) == ["dog", "cat", "Dog", "grass"]


def test_a_tag_list_with_a_long_part_keeps_its_short_tags():
    counts, sentences = tags.tag_counts(["ohwx, a woman standing in front of a red brick wall"])
    assert counts == {"ohwx": 1}
    assert sentences == 0


def test_rename_keeps_place_and_drops_duplicates():
    assert tags.rename_tag("dog, cat, grass", "cat", "kitten") == "dog, kitten, grass"
    assert tags.rename_tag("dog, cat, kitten", "cat", "kitten") == "dog, kitten"
    assert tags.rename_tag("dog,cat", "cow", "x") == "dog,cat"  # unchanged, spacing kept
    assert tags.rename_tag("a dog on a beach", "a dog on a beach", "dog, beach") == "dog, beach"
    assert tags.rename_tag("dog, cat", "Dog", "x") == "dog, cat"  # tags match with their case


def test_delete_and_move_to_front():
    assert tags.delete_tag("dog, cat, grass", "cat") == "dog, grass"
    assert tags.delete_tag("cat", "cat") == ""
    assert tags.delete_tag("a cat sleeps", "cat") == "a cat sleeps"  # part of a sentence is no tag
    assert tags.move_tag_to_front("dog, cat, grass", "grass") == "grass, dog, cat"
    assert tags.move_tag_to_front("grass,dog", "grass") == "grass,dog"  # already first: unchanged
    assert tags.move_tag_to_front("dog, cat", "cow") == "dog, cat"


def test_sort_tags_unicode_and_sentences():
    assert tags.sort_tags("zebra, Äpfel, apple, éclair, apple") == "Äpfel, apple, éclair, zebra"
    assert tags.sort_tags("b,a") == "a, b"
    assert tags.sort_tags("a,b") == "a,b"  # already sorted: unchanged, not re-spaced
    assert tags.sort_tags("a sentence about one thing") == "a sentence about one thing"
