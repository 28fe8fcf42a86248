"""Florence-2, BLIP and GIT through VisionCap against transformers' own generate + batch_decode,
on tiny random models built from their configs (tests/core/tiny_transformers.py)."""

import json
import shutil

import pytest
import torch

from core.bundles.transformers_folder import check_folder
from core.captioning.generation_settings import GenerationSettings
from core.captioning.hf_captioner import TransformersCaptioner, generate_kwargs, strip_prompt
from core.captioning.loading import load_captioner
from core.captioning.oom_fallback import OUT_OF_MEMORY, OutOfMemoryFallback
from core.errors import BundleError
from tests.core.tiny_transformers import PROMPT, pictures

FAMILIES = ("florence2", "blip", "git")
GREEDY = GenerationSettings(max_new_tokens=10)
BEAM = GenerationSettings(strategy="beam", num_beams=3, max_new_tokens=10)
# transformers' own arguments for the same settings, written out as a user of transformers would
THEIRS = {"greedy": dict(do_sample=False, num_beams=1, max_new_tokens=10),
          "beam": dict(do_sample=False, num_beams=3, max_new_tokens=10, length_penalty=1.0, early_stopping=True)}
TASKS = {"caption": "<CAPTION>", "detailed": "<DETAILED_CAPTION>", "more-detailed": "<MORE_DETAILED_CAPTION>"}


def reference(family, model, processor, images, kwargs, task="<CAPTION>", prompt=""):
    """transformers alone: the processor, generate, batch_decode (and the pipeline's removal of
    the prompt the caption continues)."""
    if family == "florence2":
        inputs = processor(images=images, text=[task] * len(images), return_tensors="pt")
    elif family == "blip":
        inputs = processor(images=images, text=[prompt] * len(images) if prompt else None, return_tensors="pt")
    else:
        inputs = processor(images=images, return_tensors="pt")
        if prompt:
            ids = processor.tokenizer(prompt, add_special_tokens=False).input_ids
            inputs["input_ids"] = torch.tensor([[processor.tokenizer.cls_token_id, *ids]] * len(images))
    with torch.no_grad():
        out = model.generate(**inputs, **kwargs)
    texts = processor.batch_decode(out, skip_special_tokens=True)
    if prompt:
        shown = processor.tokenizer.decode(inputs["input_ids"][0], skip_special_tokens=True)
        texts = [t[t.find(shown) + len(shown):] if 0 <= t.find(shown) <= 2 else t for t in texts]
    return [t.strip() for t in texts]


def in_chunks(items, size):
    return [items[i : i + size] for i in range(0, len(items), size)]


@pytest.fixture(scope="module")
def captioners(tiny_transformers):
    return {family: load_captioner(folder, device="cpu") for family, (_, folder, _, _) in tiny_transformers.items()}


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("strategy", ["greedy", "beam"])
@pytest.mark.parametrize("batch_size", [1, 2])
def test_captions_equal_transformers_generate(tiny_transformers, captioners, family, strategy, batch_size):
    _, _, model, processor = tiny_transformers[family]
    images = pictures()
    expected = [text for chunk in in_chunks(images, batch_size)
                for text in reference(family, model, processor, chunk, THEIRS[strategy])]
    settings = GREEDY if strategy == "greedy" else BEAM
    ours = captioners[family].caption(images, settings, batch_size=batch_size)
    assert [r.caption for r in ours] == expected
    assert len(set(expected)) > 1, "the check is vacuous if every picture gets the same caption"


@pytest.mark.parametrize("style", ["detailed", "more-detailed"])
def test_florence_styles_are_its_task_prompts(tiny_transformers, style):
    _, folder, model, processor = tiny_transformers["florence2"]
    captioner = load_captioner(folder, device="cpu", style=style)
    assert captioner.style == style
    images = pictures()
    expected = reference("florence2", model, processor, images, THEIRS["greedy"], task=TASKS[style])
    assert [r.caption for r in captioner.caption(images, GREEDY, batch_size=5)] == expected


@pytest.mark.parametrize("family", ["blip", "git"])
def test_a_prompt_is_continued_and_left_out_of_the_caption(tiny_transformers, family):
    _, folder, model, processor = tiny_transformers[family]
    captioner = load_captioner(folder, device="cpu", prompt=PROMPT)
    images = pictures()
    expected = reference(family, model, processor, images, THEIRS["beam"], prompt=PROMPT)
    assert [r.caption for r in captioner.caption(images, BEAM, batch_size=5)] == expected
    plain = next(r.caption for r in captioner.caption(images[:1], BEAM))
    assert not plain.startswith(PROMPT)


def test_a_bad_image_is_an_error_and_the_rest_of_its_batch_is_captioned(tiny_transformers, captioners, tmp_path):
    _, _, model, processor = tiny_transformers["florence2"]
    images = pictures()[:3]
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8 not a JPEG")
    results = captioners["florence2"].caption([images[0], broken, images[2]], GREEDY, batch_size=3)
    assert not results[1].ok and results[1].source == str(broken)
    alone = [reference("florence2", model, processor, [image], THEIRS["greedy"])[0] for image in (images[0], images[2])]
    assert [results[0].caption, results[2].caption] == alone


def test_closing_the_generator_stops_between_batches(captioners, monkeypatch):
    captioner = captioners["git"]
    calls = []
    real = captioner.caption_images
    monkeypatch.setattr(captioner, "caption_images", lambda images, settings: calls.append(len(images)) or real(images, settings))
    batches = captioner.caption_batches(pictures(), GREEDY, batch_size=2)
    assert len(next(batches)) == 2
    batches.close()
    assert calls == [2]


def test_an_empty_caption_is_an_error(captioners, monkeypatch):
    captioner = captioners["blip"]
    monkeypatch.setattr(captioner, "caption_images", lambda images, settings: ["  "] * len(images))
    assert captioner.caption(pictures()[:2])[0].error == "model produced no text"


def test_styles_and_prompts_only_where_the_model_has_them(tiny_transformers, tiny_bundle):
    florence, blip = tiny_transformers["florence2"][1], tiny_transformers["blip"][1]
    with pytest.raises(ValueError, match="has no style 'poem'; it has: caption, detailed, more-detailed"):
        load_captioner(florence, device="cpu", style="poem")
    with pytest.raises(ValueError, match=r"takes no prompt.*styles instead"):
        load_captioner(florence, device="cpu", prompt="a photo of")
    with pytest.raises(ValueError, match="no caption styles"):
        load_captioner(blip, device="cpu", style="detailed")
    with pytest.raises(ValueError, match="VisionGPT2 models have no caption styles"):
        load_captioner(tiny_bundle, device="cpu", style="detailed")
    with pytest.raises(ValueError, match="VisionGPT2 models take no prompt"):
        load_captioner(tiny_bundle, device="cpu", prompt="a photo of")
    visiongpt2 = load_captioner(tiny_bundle, device="cpu")
    assert visiongpt2.style == "" and visiongpt2.info.family == "visiongpt2" and visiongpt2.info.name == "tiny-test"


def test_describes_itself(captioners):
    florence = captioners["florence2"]
    assert florence.name == "tiny-florence2" and florence.style == "caption"
    assert florence.info.family == "florence2" and florence.info.default_style == "caption"
    assert florence.parameters == sum(p.numel() for p in florence.model.parameters()) > 0
    assert florence.precision == "fp32" and florence.device.type == "cpu"
    assert captioners["git"].info.prompt_prefix and captioners["git"].style == ""


def test_sampling_with_a_seed_is_reproducible(captioners):
    settings = GenerationSettings(strategy="sample", seed=3, temperature=1.5, top_k=20, top_p=0.9, max_new_tokens=10)
    first = [r.caption for r in captioners["blip"].caption(pictures(), settings, batch_size=5)]
    assert first == [r.caption for r in captioners["blip"].caption(pictures(), settings, batch_size=5)]


def test_every_setting_reaches_generate():
    beam = generate_kwargs(GenerationSettings(strategy="beam", num_beams=5, length_penalty=0.5, early_stopping=False,
                                              max_new_tokens=7, min_new_tokens=2, no_repeat_ngram_size=3,
                                              repetition_penalty=1.2))
    assert beam == dict(max_new_tokens=7, min_new_tokens=2, no_repeat_ngram_size=3, repetition_penalty=1.2,
                        do_sample=False, num_beams=5, length_penalty=0.5, early_stopping=False)
    sample = generate_kwargs(GenerationSettings(strategy="sample", temperature=0.7, top_k=40, top_p=0.8))
    assert sample["do_sample"] and sample["num_beams"] == 1
    assert (sample["temperature"], sample["top_k"], sample["top_p"]) == (0.7, 40, 0.8)
    assert generate_kwargs(GenerationSettings())["num_beams"] == 1


def test_prompt_is_removed_only_from_the_start():
    assert strip_prompt("a photograph of a cat", "a photograph of") == " a cat"
    assert strip_prompt("a cat, a photograph of it", "a photograph of") == "a cat, a photograph of it"


def test_the_oom_fallback_drives_a_transformers_captioner(tiny_transformers, monkeypatch):
    """On a (pretended) GPU that fits no image: halved batches, then the CPU; the same captions."""
    _, folder, model, processor = tiny_transformers["git"]
    captioner = TransformersCaptioner.load(folder, device="cpu")
    real = captioner.caption_images

    def on_small_gpu(images, settings):
        if captioner.device.type == "cuda":
            raise OUT_OF_MEMORY("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real(images, settings)

    monkeypatch.setattr(captioner, "caption_images", on_small_gpu)
    captioner.device = torch.device("cuda")
    notices = []
    images = pictures()
    results = [r for batch in OutOfMemoryFallback(captioner, notices.append).caption_batches(images, GREEDY, 4)
               for r in batch]
    expected = [reference("git", model, processor, [image], THEIRS["greedy"])[0] for image in images]
    assert [r.caption for r in results] == expected
    assert captioner.device.type == "cpu" and captioner.precision == "fp32"
    assert notices == ["CUDA ran out of memory: retrying with 2 image(s) per batch.",
                       "CUDA ran out of memory: retrying with 1 image(s) per batch.",
                       "CUDA ran out of memory even with one image per batch: captioning continues on the CPU."]


def copy_folder(src, dst):
    shutil.copytree(src, dst)
    return dst


def test_a_folder_naming_remote_code_is_refused(tiny_transformers, tmp_path):
    folder = copy_folder(tiny_transformers["florence2"][1], tmp_path / "remote")
    config = json.loads((folder / "config.json").read_text())
    config["auto_map"] = {"AutoModelForCausalLM": "modeling_florence2.Florence2ForConditionalGeneration"}
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(BundleError, match=r"config\.json: names remote code.*florence-community/Florence-2-base"):
        load_captioner(folder, device="cpu")


def test_a_tampered_weights_file_fails_its_sha256(tiny_transformers, tmp_path):
    folder = copy_folder(tiny_transformers["blip"][1], tmp_path / "tampered")
    weights = folder / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-5] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(BundleError, match=r"model\.safetensors: corrupt: its SHA-256"):
        load_captioner(folder, device="cpu")
    check_folder(folder, verify_hashes=False)  # sizes alone still match


def test_a_file_the_manifest_does_not_allow_is_refused(tiny_transformers, tmp_path):
    folder = copy_folder(tiny_transformers["git"][1], tmp_path / "extra")
    manifest = json.loads((folder / "manifest.json").read_text())
    (folder / "modeling_git.py").write_text("print('code')\n")
    manifest["files"]["modeling_git.py"] = {"bytes": 14, "sha256": "0" * 64}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match=r"modeling_git\.py: is not a file"):
        load_captioner(folder, device="cpu")


def test_weights_that_do_not_fit_the_config_are_refused(tiny_transformers, tmp_path):
    from safetensors.torch import load_file, save_file

    from core.bundles.transformers_folder import write_manifest

    folder = copy_folder(tiny_transformers["git"][1], tmp_path / "short")
    state = load_file(folder / "model.safetensors")
    state.pop(next(k for k in state if "visual_projection" in k))
    save_file(state, folder / "model.safetensors", metadata={"format": "pt"})
    write_manifest(folder, name="short", family="git", description="", licence="MIT", source="test", provenance={})
    with pytest.raises(BundleError, match=r"model\.safetensors: lacks tensors"):
        load_captioner(folder, device="cpu")
