"""Import a HF checkpoint as a VisionCap model folder, by config.json's model_type:

- `vision-encoder-decoder` (ViTModel + GPT2LMHeadModel with cross-attention, the layout of the
  public ViT-GPT2 COCO captioner) becomes a VisionGPT2 bundle in "final" mode;
- `florence2`, `blip` and `git` become transformers model folders
  (core/bundles/transformers_folder.py), which transformers runs natively.

    visioncap import-hf nlpconnect/vit-gpt2-image-captioning --out my-bundle
    visioncap import-hf ./local-checkpoint-folder --out my-bundle
    visioncap import-hf florence-2-base            # a catalogue name: into the models folder

A config that names remote code (`auto_map`) is refused before any weights are downloaded.

Both ViT key layouts are understood: transformers 4's (`encoder.encoder.layer.i.attention.
attention.query`; the public checkpoint's, and what transformers 5's save_pretrained still
writes) and transformers 5's module names (`encoder.layers.i.attention.q_proj`, a state dict
saved directly). The tokenizer and image-processor settings are carried over.

Weights are read from safetensors; a checkpoint that has only `pytorch_model.bin` (the public
COCO captioner's case) is read with PyTorch's weights-only unpickler, which rebuilds tensors and
plain containers and refuses any other object without creating it, and is converted at once:
the bundle holds safetensors only. Nothing else in VisionCap unpickles.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import socket
import tempfile
from collections.abc import Callable, Mapping
from functools import partial
from pathlib import Path
from urllib.parse import urlparse

import torch
from safetensors.torch import save_file

from core.atomic import atomic_write
from core.bundles.bundle import save_bundle
from core.bundles.checkpoint_weights import (
    distinct_storage,
    read_checkpoint_weights,
    read_safetensors_header,
)
from core.bundles.jsonfile import read_json_object
from core.bundles.resources import PUBLIC_COCO_CAPTIONER, PUBLIC_COCO_CAPTIONER_SIZE
from core.bundles.transformers_folder import (
    FAMILIES,
    SIDE_FILES,
    WEIGHTS_FILE,
    copy_side_files,
    family_of_model_type,
    refuse_remote_code,
    write_manifest,
)
from core.bundles.weights import (
    GPT2_IGNORED,
    KeyMapper,
    check_all_used,
    map_gpt2,
    strip_prefix,
    take,
)
from core.captioning.config import CaptionerConfig
from core.captioning.model import VisionGPT2
from core.captioning.tokenizer import CaptionTokenizer
from core.errors import FileError, ImportFormatError, VisionCapError

log = logging.getLogger(__name__)

HUB_FILES = (
    "config.json", "preprocessor_config.json", "generation_config.json",
    "tokenizer.json", "vocab.json", "merges.txt", "tokenizer_config.json", "special_tokens_map.json",
    "README.md", "processor_config.json", "vocab.txt", "added_tokens.json",
)
VISION_ENCODER_DECODER = "vision-encoder-decoder"
SAFETENSORS_FILES = ("model.safetensors", "model.safetensors.index.json", "model-*-of-*.safetensors")
PICKLED_FILES = ("pytorch_model.bin", "pytorch_model.bin.index.json", "pytorch_model-*-of-*.bin")

# ViT block parameters: ours (timm names) <- transformers 4 / transformers 5 names.
VIT_V4 = {
    "norm1": "layernorm_before", "norm2": "layernorm_after",
    "attn.proj": "attention.output.dense", "mlp.fc1": "intermediate.dense", "mlp.fc2": "output.dense",
}
VIT_V5 = {
    "norm1": "layernorm_before", "norm2": "layernorm_after",
    "attn.proj": "attention.o_proj", "mlp.fc1": "mlp.fc1", "mlp.fc2": "mlp.fc2",
}
VIT_QKV_V4 = ("attention.attention.query", "attention.attention.key", "attention.attention.value")
VIT_QKV_V5 = ("attention.q_proj", "attention.k_proj", "attention.v_proj")
VIT_IGNORED = re.compile(r"^(pooler\.|embeddings\.mask_token$)")
# HF's ViTImageProcessor stores PIL resample codes.
PIL_RESAMPLE = {0: "nearest", 1: "lanczos", 2: "bilinear", 3: "bicubic"}
TANH_GELU = ("gelu_new", "gelu_pytorch_tanh", "gelu_fast")


class OfflineError(VisionCapError):
    """The hub could not be reached."""


class ImportFileError(FileError, ImportFormatError):
    """A checkpoint file is missing, unreadable or not what it should be."""


def config_from_hf(hf_config: Mapping, preprocessor: Mapping | None, source: str) -> CaptionerConfig:
    """Translate a VisionEncoderDecoder config.json (+ preprocessor_config.json)."""
    try:
        enc, dec = hf_config["encoder"], hf_config["decoder"]
    except KeyError as exc:
        raise ImportFormatError(f"{source}/config.json: not a VisionEncoderDecoder config (no {exc})") from exc
    if enc.get("model_type") != "vit" or dec.get("model_type") != "gpt2":
        raise ImportFormatError(
            f"{source}/config.json: needs a ViT encoder and a GPT-2 decoder, "
            f"found {enc.get('model_type')!r} and {dec.get('model_type')!r}"
        )
    width = dec["n_embd"]
    unsupported = []
    if enc.get("hidden_act", "gelu") != "gelu":
        unsupported.append(f"ViT activation {enc['hidden_act']!r}")
    if dec.get("activation_function", "gelu_new") not in TANH_GELU:
        unsupported.append(f"GPT-2 activation {dec['activation_function']!r}")
    if dec.get("n_inner") not in (None, 4 * width):
        unsupported.append(f"GPT-2 n_inner {dec['n_inner']}")
    for flag in ("scale_attn_by_inverse_layer_idx", "reorder_and_upcast_attn"):
        if dec.get(flag):
            unsupported.append(f"GPT-2 {flag}")
    if dec.get("scale_attn_weights", True) is False:
        unsupported.append("GPT-2 scale_attn_weights=false")
    if unsupported:
        raise ImportFormatError(f"{source}/config.json: unsupported {', '.join(unsupported)}")

    eos = hf_config.get("eos_token_id", dec.get("eos_token_id"))
    bos = hf_config.get("decoder_start_token_id", dec.get("decoder_start_token_id", dec.get("bos_token_id")))
    pad = hf_config.get("pad_token_id", dec.get("pad_token_id"))
    pad = eos if pad is None else pad
    if eos is None or bos is None:
        raise ImportFormatError(f"{source}/config.json: no eos_token_id or decoder_start_token_id")

    image_size = enc.get("image_size", 224)
    pre = dict(preprocessor or {})
    size = pre.get("size", image_size)
    if isinstance(size, Mapping):
        size = size.get("height", size.get("shortest_edge", image_size))
    if size != image_size:
        raise ImportFormatError(
            f"{source}/preprocessor_config.json: resizes to {size} px, the encoder expects {image_size} px"
        )
    normalise = pre.get("do_normalize", True)
    return CaptionerConfig(
        image_size=image_size,
        patch_size=enc.get("patch_size", 16),
        in_chans=enc.get("num_channels", 3),
        vit_width=enc["hidden_size"],
        vit_depth=enc["num_hidden_layers"],
        vit_heads=enc["num_attention_heads"],
        vit_mlp_ratio=enc["intermediate_size"] / enc["hidden_size"],
        vit_ln_eps=enc.get("layer_norm_eps", 1e-12),
        vit_qkv_bias=enc.get("qkv_bias", True),
        vit_dropout=0.0,
        vocab_size=dec["vocab_size"],
        context_length=dec.get("n_positions", 1024),
        gpt_width=width,
        gpt_depth=dec["n_layer"],
        gpt_heads=dec["n_head"],
        gpt_ln_eps=dec.get("layer_norm_epsilon", 1e-5),
        embd_dropout=dec.get("embd_pdrop", 0.1),
        attn_dropout=dec.get("attn_pdrop", 0.1),
        resid_dropout=dec.get("resid_pdrop", 0.1),
        cross_attention="final",
        bos_token_id=bos,
        eos_token_id=eos,
        pad_token_id=pad,
        image_mean=tuple(pre.get("image_mean", (0.5, 0.5, 0.5))) if normalise else (0.0, 0.0, 0.0),
        image_std=tuple(pre.get("image_std", (0.5, 0.5, 0.5))) if normalise else (1.0, 1.0, 1.0),
        resize_interpolation=PIL_RESAMPLE.get(pre.get("resample", 2), "bilinear"),
    )


def _map_vit(state: Mapping[str, torch.Tensor], cfg: CaptionerConfig, mapper: KeyMapper, used: set[str]) -> None:
    """HF ViTModel keys (without the `encoder.` prefix of the pair) -> encoder.*"""
    v4 = any(k.startswith("encoder.layer.") for k in state)
    names, qkv = (VIT_V4, VIT_QKV_V4) if v4 else (VIT_V5, VIT_QKV_V5)
    block = "encoder.layer.{}." if v4 else "layers.{}."
    get = partial(take, state, used=used, source=mapper.source, shown="encoder.")
    mapper.put("encoder.cls_token", get("embeddings.cls_token"))
    mapper.put("encoder.pos_embed", get("embeddings.position_embeddings"))
    mapper.put("encoder.patch_embed.proj.weight", get("embeddings.patch_embeddings.projection.weight"))
    mapper.put("encoder.patch_embed.proj.bias", get("embeddings.patch_embeddings.projection.bias"))
    for i in range(cfg.vit_depth):
        src = block.format(i)
        for ours, theirs in names.items():
            for p in ("weight", "bias"):
                mapper.put(f"encoder.blocks.{i}.{ours}.{p}", get(f"{src}{theirs}.{p}"))
        for p in ("weight", "bias"):  # timm packs q, k, v into one projection
            mapper.put(f"encoder.blocks.{i}.attn.qkv.{p}", torch.cat([get(f"{src}{n}.{p}") for n in qkv]))
    mapper.put("encoder.norm.weight", get("layernorm.weight"))
    mapper.put("encoder.norm.bias", get("layernorm.bias"))


def _map_cross_attention(
    state: Mapping[str, torch.Tensor],
    cfg: CaptionerConfig,
    mapper: KeyMapper,
    used: set[str],
    projection: tuple[torch.Tensor, torch.Tensor] | None,
) -> None:
    """GPT-2's crossattention (q_attn; c_attn = k then v; c_proj; all Conv1D) -> cross_attn.*

    If the pair has an `enc_to_dec_proj` (encoder and decoder widths differ), it is folded into
    the key/value projection: W_kv (W_p e + b_p) + b_kv = (W_kv W_p) e + (W_kv b_p + b_kv).
    """
    get = partial(take, state, used=used, source=mapper.source, shown="decoder.")
    for i in range(cfg.gpt_depth):
        src, dst = f"transformer.h.{i}.", f"decoder.h.{i}."
        mapper.put(dst + "ln_cross.weight", get(src + "ln_cross_attn.weight"))
        mapper.put(dst + "ln_cross.bias", get(src + "ln_cross_attn.bias"))
        mapper.put(dst + "cross_attn.q_proj.weight", get(src + "crossattention.q_attn.weight").t())
        mapper.put(dst + "cross_attn.q_proj.bias", get(src + "crossattention.q_attn.bias"))
        kv_w, kv_b = get(src + "crossattention.c_attn.weight").t(), get(src + "crossattention.c_attn.bias")
        if projection is not None:
            proj_w, proj_b = projection
            kv_w, kv_b = kv_w @ proj_w, kv_w @ proj_b + kv_b
        mapper.put(dst + "cross_attn.kv_proj.weight", kv_w)
        mapper.put(dst + "cross_attn.kv_proj.bias", kv_b)
        mapper.put(dst + "cross_attn.c_proj.weight", get(src + "crossattention.c_proj.weight").t())
        mapper.put(dst + "cross_attn.c_proj.bias", get(src + "crossattention.c_proj.bias"))


def convert_state(state: Mapping[str, torch.Tensor], cfg: CaptionerConfig, source: str) -> dict[str, torch.Tensor]:
    """VisionEncoderDecoderModel state dict -> VisionGPT2 ("final" mode) state dict."""
    model_keys = _expected_shapes(cfg)
    mapper = KeyMapper(model_keys, source)
    enc = strip_prefix(state, "encoder.")
    dec = strip_prefix(state, "decoder.")
    enc_used: set[str] = set()
    dec_used: set[str] = set()
    _map_vit(enc, cfg, mapper, enc_used)
    check_all_used(enc, enc_used, VIT_IGNORED.search, f"{source} (encoder)")
    map_gpt2(dec, cfg, mapper, dec_used)
    projection = None
    if "enc_to_dec_proj.weight" in state:
        projection = (state["enc_to_dec_proj.weight"].float(), state["enc_to_dec_proj.bias"].float())
    _map_cross_attention(dec, cfg, mapper, dec_used, projection)
    check_all_used(dec, dec_used, GPT2_IGNORED.search, f"{source} (decoder)")
    others = sorted(k for k in state if not k.startswith(("encoder.", "decoder.", "enc_to_dec_proj.")))
    if others:
        raise ImportFormatError(f"{source}: unexpected tensors {others[:8]}")
    missing = sorted(set(model_keys) - set(mapper.out))
    if missing:
        raise ImportFormatError(f"{source}: nothing maps to {missing[:8]}")
    return mapper.out


def _expected_shapes(cfg: CaptionerConfig) -> dict[str, torch.Size]:
    with torch.device("meta"):
        return {k: v.shape for k, v in VisionGPT2(cfg).state_dict().items()}


def tokenizer_from_folder(folder: Path) -> CaptionTokenizer:
    """tokenizer.json if present; otherwise GPT-2's vocab.json + merges.txt, built with the
    `tokenizers` library the way GPT-2's fast tokenizer is (byte-level, no prefix space)."""
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, processors

    if (folder / "tokenizer.json").is_file():
        return CaptionTokenizer.from_file(folder / "tokenizer.json")
    vocab, merges = folder / "vocab.json", folder / "merges.txt"
    if not (vocab.is_file() and merges.is_file()):
        raise ImportFormatError(f"{folder}: no tokenizer.json, nor vocab.json and merges.txt")
    tokenizer = Tokenizer(models.BPE.from_file(str(vocab), str(merges)))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.post_processor = processors.ByteLevel(trim_offsets=False)
    specials = _special_tokens(folder)
    tokenizer.add_special_tokens([AddedToken(t, special=True) for t in specials])
    return CaptionTokenizer(tokenizer)


def _special_tokens(folder: Path) -> list[str]:
    found = {"<|endoftext|>"}
    path = folder / "special_tokens_map.json"
    if path.is_file():
        for value in read_json_object(path, ImportFileError).values():
            content = value.get("content") if isinstance(value, dict) else value
            if isinstance(content, str):
                found.add(content)
    return sorted(found)


def fetch_from_hub(repo_id: str, cache_dir: Path, progress: Callable[[str], None] | None = None) -> Path:
    """Download the files an import needs into `cache_dir`: safetensors weights when the
    repository has them, otherwise its `pytorch_model.bin` (read with the weights-only loader)."""
    try:
        from huggingface_hub import HfApi, snapshot_download
    except ImportError as exc:
        raise VisionCapError(
            "downloading a model needs the huggingface_hub package, which this installation lacks "
            "(pip install huggingface_hub)"
        ) from exc
    _check_hub_reachable(repo_id)
    try:
        files = HfApi().list_repo_files(repo_id)
        if any(f.endswith(".safetensors") for f in files):
            weights = SAFETENSORS_FILES
        elif any(f.startswith("pytorch_model") and f.endswith(".bin") for f in files):
            weights = PICKLED_FILES
        else:
            raise ImportFormatError(f"{repo_id}: the hub has neither model.safetensors nor pytorch_model.bin for it")
        # the config first: one that names remote code is refused before the weights come
        refuse_remote_code(Path(snapshot_download(repo_id, allow_patterns=["config.json"], cache_dir=cache_dir)))
        if progress:
            progress(f"Downloading {repo_id}{_download_size(repo_id)}...")
        return Path(snapshot_download(repo_id, allow_patterns=[*HUB_FILES, *weights], cache_dir=cache_dir))
    except VisionCapError:
        raise
    except Exception as exc:  # requests, httpx or httpx2 errors, by huggingface_hub's version
        raise OfflineError(f"cannot download {repo_id} from the model hub ({type(exc).__name__}: {exc})") from exc


def _download_size(repo_id: str) -> str:
    from core.captioning.catalogue import CATALOGUE

    if repo_id == PUBLIC_COCO_CAPTIONER:
        return f" ({PUBLIC_COCO_CAPTIONER_SIZE})"
    known = next((m for m in CATALOGUE if m.source == repo_id), None)
    return f" (about {known.download_bytes / 1e9:.1f} GB)" if known else ""


def _check_hub_reachable(repo_id: str) -> None:
    """Fail at once when the hub's name does not resolve, instead of after the hub client's
    retries. Behind a proxy, name resolution is the proxy's business: no check."""
    if any(os.environ.get(v) for v in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")):
        return
    host = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co")).hostname or "huggingface.co"
    try:
        socket.getaddrinfo(host, 443)
    except OSError as exc:
        raise OfflineError(f"cannot download {repo_id}: the model hub ({host}) is unreachable; are you offline?") from exc


def _model_card_licence(folder: Path) -> str | None:
    """The `license:` field of the model card's YAML front matter, if any."""
    card = folder / "README.md"
    if not card.is_file():
        return None
    match = re.search(r"^license:\s*(\S+)", card.read_text(encoding="utf-8", errors="replace"), re.MULTILINE)
    return match.group(1) if match else None


def import_hf(
    src: str | Path,
    out_dir: str | Path,
    progress: Callable[[str], None] | None = None,
    name: str | None = None,
    licence: str | None = None,
) -> Path:
    """Import a local checkpoint folder, or a hub id when online, into `out_dir`: a VisionGPT2
    bundle for a VisionEncoderDecoder checkpoint, a transformers model folder for Florence-2,
    BLIP and GIT (see the module's docstring). `licence` overrides the model card's."""
    say = progress or (lambda message: log.info("%s", message))
    src_path = Path(src)
    with tempfile.TemporaryDirectory(prefix="visioncap-import-") as tmp:
        if src_path.is_dir():
            folder = src_path
        elif re.fullmatch(r"[\w.-]+/[\w.-]+", str(src)):
            folder = fetch_from_hub(str(src), Path(tmp), say)
        else:
            raise ImportFormatError(f"{src}: not a checkpoint folder, nor a hub id like owner/name")
        say("Reading the checkpoint...")
        refuse_remote_code(folder)
        hf_config = read_json_object(folder / "config.json", ImportFileError)
        model_type = str(hf_config.get("model_type", ""))
        name = name or str(src).rstrip("/").split("/")[-1]
        licence = licence or _model_card_licence(folder) or "see the source model card"
        family = family_of_model_type(model_type)
        if family is not None:
            return import_transformers(folder, Path(out_dir), family.name, str(src), name, licence, hf_config, say)
        if model_type not in ("", VISION_ENCODER_DECODER) and "encoder" not in hf_config:
            kinds = ", ".join(t for f in FAMILIES.values() for t in f.model_types)
            raise ImportFormatError(
                f"{folder / 'config.json'}: model_type {model_type!r} is not one VisionCap imports "
                f"({VISION_ENCODER_DECODER} with ViT and GPT-2, {kinds})"
            )
        preprocessor = folder / "preprocessor_config.json"
        cfg = config_from_hf(
            hf_config, read_json_object(preprocessor, ImportFileError) if preprocessor.is_file() else None, str(src)
        )
        state = convert_state(read_checkpoint_weights(folder), cfg, str(src))
        tokenizer = tokenizer_from_folder(folder)
        with torch.device("meta"):
            model = VisionGPT2(cfg)
        model.load_state_dict(state, strict=True, assign=True)
        say("Writing the bundle...")
        return save_bundle(
            out_dir,
            model,
            tokenizer,
            name=name,
            description=f"Imported from the HF VisionEncoderDecoder checkpoint {src}",
            licence=licence,
            provenance={
                "source": str(src),
                "importer": "visioncap import-hf",
                "transformers_version": hf_config.get("transformers_version"),
            },
        )


def import_transformers(
    folder: Path,
    out: Path,
    family: str,
    source: str,
    name: str,
    licence: str,
    hf_config: Mapping,
    say: Callable[[str], None],
) -> Path:
    """A Florence-2, BLIP or GIT checkpoint folder -> a transformers model folder: its configs and
    tokenizer files, the weights as one model.safetensors, a manifest with SHA-256 sums."""
    if not any((folder / f).is_file() for f in ("tokenizer.json", "vocab.txt", "vocab.json")):
        raise ImportFormatError(f"{folder}: no tokenizer (tokenizer.json, vocab.txt or vocab.json)")
    if not any((folder / f).is_file() for f in ("preprocessor_config.json", "processor_config.json")):
        raise ImportFormatError(f"{folder}: no image processor settings (preprocessor_config.json)")
    single = folder / WEIGHTS_FILE
    state = None
    if single.is_file():
        read_safetensors_header(single)
    else:  # shards, or pickles read with the weights-only unpickler: one safetensors file
        state = distinct_storage(read_checkpoint_weights(folder))
    say("Writing the model folder...")
    out.mkdir(parents=True, exist_ok=True)
    if state is None:
        atomic_write(out / WEIGHTS_FILE, lambda tmp: shutil.copyfile(single, tmp))
    else:
        atomic_write(out / WEIGHTS_FILE, lambda tmp: save_file(state, str(tmp), metadata={"format": "pt"}))
    for stale in SIDE_FILES:  # a folder written before holds only what this import brings
        if (out / stale).is_file() and not (folder / stale).is_file():
            (out / stale).unlink()
    copy_side_files(folder, out)
    write_manifest(
        out,
        name=name,
        family=family,
        description=f"Imported from the {family} checkpoint {source}",
        licence=licence,
        source=source,
        provenance={
            "source": source,
            "importer": "visioncap import-hf",
            "transformers_version": hf_config.get("transformers_version"),
        },
    )
    return out


def install_model(name: str, progress: Callable[[str], None] | None = None) -> Path:
    """Download the catalogue model `name` (core.captioning.catalogue) from its source into
    installed_dir(name), atomically: it is written into a temporary folder beside it and renamed
    into place, so the models folder never holds half a model (an earlier install is replaced
    only once the new one is complete). Returns the folder."""
    from core.captioning.catalogue import CATALOGUE, installed_dir, model_info

    info = model_info(name)
    if info is None:
        raise ImportFormatError(f"no model named {name!r}; VisionCap knows {', '.join(m.name for m in CATALOGUE)}")
    target = installed_dir(name)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{name}.", suffix=".partial", dir=target.parent))
    try:
        import_hf(info.source, staging, progress, name=name, licence=info.licence)
        old = target.with_name(f".{name}.old")
        if target.exists():
            shutil.rmtree(old, ignore_errors=True)
            os.replace(target, old)
        os.replace(staging, target)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target
