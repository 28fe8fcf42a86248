"""Model folders for the captioners transformers runs natively (Florence-2, BLIP, GIT).

    manifest.json            name, kind "transformers", family, model class, licence, source,
                             and each file's size and SHA-256 (as a bundle's manifest)
    config.json              the model's transformers config
    generation_config.json   its generation defaults (VisionCap passes every setting it uses)
    preprocessor_config.json / processor_config.json    the image processor (and processor)
    tokenizer.json, tokenizer_config.json, ...           the tokenizer
    model.safetensors        the weights, one file

Only these files are written, and loading reads nothing else: weights are safetensors (a
pickled checkpoint is converted when imported, core/bundles/hf_import.py), and a config that
names remote code (`auto_map`) is refused, since transformers would otherwise import Python
files from the folder. Each file's SHA-256 is checked at load as a bundle's are
(core/bundles/verification.py remembers the files already checked).

This module imports neither torch nor transformers.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from core.atomic import atomic_write_text
from core.bundles.jsonfile import read_json_object
from core.bundles.verification import check_files, file_entries
from core.errors import BundleError

KIND = "transformers"
FORMAT_VERSION = 1
MANIFEST_FILE = "manifest.json"
WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"
# What a folder may hold besides the weights and the manifest: configs and tokenizer files.
SIDE_FILES = (
    "config.json", "generation_config.json", "preprocessor_config.json", "processor_config.json",
    "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json",
    "vocab.json", "merges.txt", "vocab.txt",
)
# Files transformers would read code or settings from: none may name remote code.
CODE_HOOK_FILES = ("config.json", "preprocessor_config.json", "processor_config.json", "tokenizer_config.json")


@dataclass(frozen=True)
class Family:
    """How transformers runs one model type natively."""

    name: str  # core.captioning.catalogue.FAMILIES
    model_types: tuple[str, ...]  # config.json's model_type
    model_class: str  # the transformers class that loads it
    processor_class: str
    native_repos: str  # where to get weights that need no remote code, for messages


FAMILIES = {
    family.name: family
    for family in (
        Family("florence2", ("florence2",), "Florence2ForConditionalGeneration", "Florence2Processor",
               "florence-community/Florence-2-base or florence-community/Florence-2-large"),
        Family("blip", ("blip",), "BlipForConditionalGeneration", "BlipProcessor",
               "Salesforce/blip-image-captioning-base or -large"),
        Family("git", ("git",), "GitForCausalLM", "GitProcessor", "microsoft/git-base-coco"),
    )
}


def family_of_model_type(model_type: str) -> Family | None:
    return next((f for f in FAMILIES.values() if model_type in f.model_types), None)


@dataclass
class TransformersManifest:
    name: str
    family: str
    model_class: str
    kind: str = KIND
    description: str = ""
    licence: str = "unknown"
    source: str = ""  # the hub id or folder it was imported from
    provenance: dict | None = None
    format_version: int = FORMAT_VERSION
    created: str = ""
    files: dict | None = None  # file name -> {"bytes": int, "sha256": str}

    def to_json(self) -> str:
        return json.dumps(self.__dict__, indent=2, ensure_ascii=False) + "\n"


def manifest_kind(folder: str | Path) -> str:
    """A model folder's kind: "transformers", or "visiongpt2" for a bundle (whose manifest has no
    kind). Raises BundleError when the folder or its manifest is missing or unreadable."""
    folder = Path(folder)
    if not folder.is_dir():
        raise BundleError(folder, "not a model folder (it does not exist or is not a folder)")
    data = read_json_object(folder / MANIFEST_FILE, BundleError)
    kind = data.get("kind", "visiongpt2")
    if kind not in ("visiongpt2", KIND):
        raise BundleError(folder / MANIFEST_FILE, f"unknown model kind {kind!r} (expected visiongpt2 or {KIND})")
    return str(kind)


def refuse_remote_code(folder: Path, family: str | None = None) -> None:
    """Raise BundleError when a config in `folder` names remote code (`auto_map`)."""
    for name in CODE_HOOK_FILES:
        path = folder / name
        if not path.is_file():
            continue
        data = read_json_object(path, BundleError)
        if "auto_map" in data:
            spec = FAMILIES.get(family or "") or family_of_model_type(str(data.get("model_type", "")))
            instead = f"; use the transformers-native weights instead ({spec.native_repos})" if spec else ""
            raise BundleError(
                path,
                "names remote code (auto_map): VisionCap never runs Python code that comes with a model"
                + instead,
            )


def write_manifest(
    folder: Path, *, name: str, family: str, description: str, licence: str, source: str, provenance: dict
) -> TransformersManifest:
    """Hash the folder's files (the weights and SIDE_FILES present) and write manifest.json."""
    names = [f for f in (*SIDE_FILES, WEIGHTS_FILE) if (folder / f).is_file()]
    if WEIGHTS_FILE not in names:
        raise BundleError(folder / WEIGHTS_FILE, "missing")
    manifest = TransformersManifest(
        name=name,
        family=family,
        model_class=FAMILIES[family].model_class,
        description=description,
        licence=licence,
        source=source,
        provenance=provenance,
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        files=file_entries(folder, names),
    )
    atomic_write_text(folder / MANIFEST_FILE, manifest.to_json())
    return manifest


def copy_side_files(src: Path, out: Path, names: Iterable[str] = SIDE_FILES) -> list[str]:
    """Copy the config and tokenizer files `src` has into `out`; returns their names."""
    copied = []
    for name in names:
        if (src / name).is_file():
            shutil.copyfile(src / name, out / name)
            copied.append(name)
    return copied


def read_manifest(folder: Path) -> TransformersManifest:
    path = folder / MANIFEST_FILE
    data = read_json_object(path, BundleError)
    known = set(TransformersManifest.__dataclass_fields__)
    unknown = sorted(set(data) - known)
    if unknown:
        raise BundleError(path, f"unexpected fields {unknown}")
    try:
        manifest = TransformersManifest(**data)
    except TypeError as exc:
        raise BundleError(path, f"missing fields ({exc})") from exc
    if manifest.kind != KIND:
        raise BundleError(path, f"kind is {manifest.kind!r}, not {KIND!r}")
    if manifest.format_version > FORMAT_VERSION:
        raise BundleError(path, f"format {manifest.format_version} is newer than this VisionCap understands; update VisionCap")
    if manifest.family not in FAMILIES:
        raise BundleError(path, f"unknown family {manifest.family!r} (VisionCap runs {', '.join(FAMILIES)})")
    if manifest.model_class != FAMILIES[manifest.family].model_class:
        raise BundleError(path, f"model class {manifest.model_class!r} is not {FAMILIES[manifest.family].model_class!r}")
    if not manifest.files or WEIGHTS_FILE not in manifest.files:
        raise BundleError(path, f"lists no {WEIGHTS_FILE}")
    return manifest


def check_folder(folder: str | Path, verify_hashes: bool = True) -> TransformersManifest:
    """Read the manifest and check the folder against it: every listed file present with its
    size and (if `verify_hashes`) SHA-256, nothing but safetensors weights, no remote code.
    Raises BundleError naming the file and the problem."""
    folder = Path(folder)
    manifest = read_manifest(folder)
    refuse_remote_code(folder, manifest.family)
    files = manifest.files or {}
    for name in files:
        if name != WEIGHTS_FILE and name not in SIDE_FILES:
            raise BundleError(folder / name, "is not a file a transformers model folder may hold")
    check_files(folder, files, verify_hashes, "after it was installed")
    return manifest
