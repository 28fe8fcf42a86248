"""Importing HF VisionEncoderDecoder checkpoints, built from tiny configs and saved locally."""

import json
import os

import pytest
import torch
import transformers
from safetensors.torch import load_file, save_file

from core.bundles.bundle import load_bundle
from core.bundles.hf_import import import_hf
from core.captioning.generation import GenerationSettings, generate
from core.cli.main import main as cli_main
from core.errors import ImportFormatError
from tests.tiny import train_tokenizer


def hf_captioner(vit_width=32, seed=0):
    torch.manual_seed(seed)
    vit = transformers.ViTConfig(
        hidden_size=vit_width, num_hidden_layers=2, num_attention_heads=2, intermediate_size=2 * vit_width,
        image_size=32, patch_size=8,
    )
    gpt = transformers.GPT2Config(
        vocab_size=300, n_positions=64, n_embd=32, n_layer=2, n_head=2, add_cross_attention=True,
        is_decoder=True, bos_token_id=0, eos_token_id=0,
    )
    config = transformers.VisionEncoderDecoderConfig.from_encoder_decoder_configs(vit, gpt)
    config.decoder_start_token_id = config.pad_token_id = config.eos_token_id = 0
    model = transformers.VisionEncoderDecoderModel(config).eval()
    with torch.no_grad():  # spread the weights so that greedy decoding does not stop at once
        for p in model.parameters():
            p.normal_(0.0, 0.3)
    return model


def save_checkpoint(model, folder, tokenizer_files="json"):
    model.save_pretrained(folder)
    tokenizer = train_tokenizer(vocab_size=300)
    if tokenizer_files == "json":
        transformers.GPT2TokenizerFast(tokenizer_object=tokenizer).save_pretrained(folder)
    else:  # GPT-2's older layout: vocab.json + merges.txt only
        tokenizer.model.save(str(folder))
    transformers.ViTImageProcessor(
        size={"height": 32, "width": 32}, image_mean=[0.4, 0.5, 0.6], image_std=[0.2, 0.3, 0.4]
    ).save_pretrained(folder)
    return tokenizer


def assert_same_model(hf, bundle_dir):
    bundle = load_bundle(bundle_dir)
    images = torch.randn(3, 3, 32, 32)
    ids = torch.randint(0, 300, (3, 9))
    with torch.no_grad():
        reference = hf(pixel_values=images, decoder_input_ids=ids).logits
        ours = bundle.model(images, ids)
        assert (reference - ours).abs().max().item() <= 1e-4
        hf_tokens = hf.generate(pixel_values=images, max_new_tokens=12, do_sample=False, num_beams=1)
    ours_tokens = generate(bundle.model, images, GenerationSettings(max_new_tokens=12))
    for theirs, mine in zip(hf_tokens.tolist(), ours_tokens):
        theirs = theirs[1:]  # HF includes the decoder start token
        if 0 in theirs:
            theirs = theirs[: theirs.index(0)]  # and the EOS, then padding
        assert mine == theirs
    assert any(ours_tokens), "the check is vacuous if every caption is empty"
    return bundle


def test_transformers4_layout_as_save_pretrained_writes_it(tmp_path):
    """save_pretrained writes the transformers-4 key names (those of the public checkpoint)."""
    hf = hf_captioner()
    save_checkpoint(hf, tmp_path / "hf")
    keys = load_file(tmp_path / "hf" / "model.safetensors")
    assert "encoder.encoder.layer.0.attention.attention.query.weight" in keys
    import_hf(tmp_path / "hf", tmp_path / "bundle")
    bundle = assert_same_model(hf, tmp_path / "bundle")
    cfg = bundle.config
    assert cfg.cross_attention == "final" and cfg.vit_ln_eps == 1e-12
    assert cfg.image_mean == (0.4, 0.5, 0.6) and cfg.image_std == (0.2, 0.3, 0.4)
    assert cfg.resize_interpolation == "bilinear"


def test_transformers5_key_layout_imports_too(tmp_path):
    """transformers 5 renamed the ViT modules (layers.i.attention.q_proj, mlp.fc1, ...)."""
    hf = hf_captioner()
    tokenizer = save_checkpoint(hf, tmp_path / "hf", tokenizer_files="vocab-merges")
    state = {k: v.clone().contiguous() for k, v in hf.state_dict().items()}
    assert "encoder.layers.1.attention.q_proj.weight" in state
    save_file(state, tmp_path / "hf" / "model.safetensors")
    import_hf(tmp_path / "hf", tmp_path / "bundle")
    bundle = assert_same_model(hf, tmp_path / "bundle")
    text = "a large red circle to the left of a small blue square"
    assert bundle.tokenizer.encode(text) == tokenizer.encode(text).ids


def test_encoder_to_decoder_projection_is_folded_into_the_keys_and_values(tmp_path):
    hf = hf_captioner(vit_width=48)
    assert hasattr(hf, "enc_to_dec_proj")
    save_checkpoint(hf, tmp_path / "hf")
    import_hf(tmp_path / "hf", tmp_path / "bundle")
    assert_same_model(hf, tmp_path / "bundle")


def test_cli_import_hf(tmp_path):
    save_checkpoint(hf_captioner(), tmp_path / "hf")
    assert cli_main(["import-hf", str(tmp_path / "hf"), "--out", str(tmp_path / "b"), "--name", "tiny"]) == 0
    manifest = json.loads((tmp_path / "b" / "manifest.json").read_text())
    assert manifest["name"] == "tiny" and manifest["provenance"]["importer"] == "visioncap import-hf"


def test_checkpoint_with_only_pytorch_model_bin_is_converted_to_safetensors(tmp_path):
    """Defect 11: the public COCO captioner has only pickled weights. They are read with the
    weights-only unpickler and the bundle holds safetensors only."""
    hf = hf_captioner()
    save_checkpoint(hf, tmp_path / "hf")
    (tmp_path / "hf" / "model.safetensors").unlink()
    torch.save(hf.state_dict(), tmp_path / "hf" / "pytorch_model.bin")
    assert cli_main(["import-hf", str(tmp_path / "hf"), "--out", str(tmp_path / "bundle")]) == 0
    assert sorted(p.name for p in (tmp_path / "bundle").iterdir()) == [
        "config.json", "manifest.json", "model.safetensors", "tokenizer.json"]
    assert_same_model(hf, tmp_path / "bundle")


class RunsCode:
    """Unpickling this calls os.mkdir(marker): what a malicious checkpoint would do."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return os.mkdir, (self.marker,)


def test_pickle_carrying_code_is_refused_without_running_it(tmp_path):
    save_checkpoint(hf_captioner(), tmp_path / "hf")
    weights = tmp_path / "hf" / "model.safetensors"
    state = load_file(weights)
    weights.unlink()
    marker = tmp_path / "the-pickle-ran"
    torch.save({**state, "payload": RunsCode(marker)}, tmp_path / "hf" / "pytorch_model.bin")
    with pytest.raises(ImportFormatError, match=r"pytorch_model\.bin: refused"):
        import_hf(tmp_path / "hf", tmp_path / "bundle")
    assert cli_main(["import-hf", str(tmp_path / "hf"), "--out", str(tmp_path / "b")]) == 2
    assert not marker.exists() and not (tmp_path / "bundle").exists()
    torch.load(tmp_path / "hf" / "pytorch_model.bin", weights_only=False)  # the unsafe loader...
    assert marker.exists(), "...does run it, so the test above is not vacuous"


def test_folder_without_weights_names_what_is_missing(tmp_path):
    save_checkpoint(hf_captioner(), tmp_path / "hf")
    (tmp_path / "hf" / "model.safetensors").rename(tmp_path / "hf" / "model.pth")
    with pytest.raises(ImportFormatError, match=r"no model\.safetensors"):
        import_hf(tmp_path / "hf", tmp_path / "bundle")


def test_unexpected_tensor_is_reported_not_dropped(tmp_path):
    save_checkpoint(hf_captioner(), tmp_path / "hf")
    weights = tmp_path / "hf" / "model.safetensors"
    state = load_file(weights) | {"decoder.transformer.h.0.mystery.weight": torch.zeros(2)}
    save_file(state, weights)
    with pytest.raises(ImportFormatError, match="mystery"):
        import_hf(tmp_path / "hf", tmp_path / "bundle")


class FakeHub:
    """Stands in for huggingface_hub's HfApi: the files of each revision, or a failure."""

    def __init__(self, files, fail=None):
        self.files, self.fail = files, fail

    def __call__(self):
        return self

    def list_repo_files(self, repo_id, revision=None):
        if self.fail:
            raise self.fail
        return self.files.get(revision, [])


@pytest.fixture
def hub(monkeypatch, tmp_path):
    """A checkpoint folder served by a fake hub; records the files asked for."""
    import huggingface_hub

    import core.bundles.hf_import as hf_import

    save_checkpoint(hf_captioner(), tmp_path / "served")
    asked = {}

    def snapshot_download(repo_id, allow_patterns=None, cache_dir=None):
        asked["patterns"] = allow_patterns
        return str(tmp_path / "served")

    monkeypatch.setattr(huggingface_hub, "snapshot_download", snapshot_download)
    monkeypatch.setattr(hf_import, "_check_hub_reachable", lambda repo_id: None)
    return asked


def test_hub_import_downloads_safetensors_only_when_there_are_some(hub, monkeypatch, tmp_path):
    import huggingface_hub

    files = {None: ["config.json", "model.safetensors", "pytorch_model.bin"]}
    monkeypatch.setattr(huggingface_hub, "HfApi", FakeHub(files))
    import_hf("owner/model", tmp_path / "bundle")
    assert not any(p.endswith((".bin", ".pth", ".h5", ".msgpack")) for p in hub["patterns"])
    assert load_bundle(tmp_path / "bundle").manifest.provenance["source"] == "owner/model"


def test_hub_repo_with_only_pickles_downloads_pytorch_model_bin(hub, monkeypatch, tmp_path):
    import huggingface_hub

    hf = hf_captioner()
    served = tmp_path / "served"
    (served / "model.safetensors").unlink()
    torch.save(hf.state_dict(), served / "pytorch_model.bin")
    monkeypatch.setattr(huggingface_hub, "HfApi", FakeHub({None: ["config.json", "pytorch_model.bin"]}))
    import_hf("owner/model", tmp_path / "bundle")
    assert "pytorch_model.bin" in hub["patterns"] and "model.safetensors" not in hub["patterns"]
    assert_same_model(hf, tmp_path / "bundle")


def test_hub_repo_without_weights_is_refused(hub, monkeypatch, tmp_path):
    import huggingface_hub

    monkeypatch.setattr(huggingface_hub, "HfApi", FakeHub({None: ["config.json", "flax_model.msgpack"]}))
    with pytest.raises(ImportFormatError, match=r"neither model\.safetensors nor pytorch_model\.bin"):
        import_hf("owner/model", tmp_path / "bundle")


def test_network_failures_become_one_offline_error(hub, monkeypatch, tmp_path, capsys):
    import huggingface_hub

    from core.bundles.hf_import import OfflineError

    monkeypatch.setattr(huggingface_hub, "HfApi", FakeHub({}, fail=ConnectionError("Name or service not known")))
    with pytest.raises(OfflineError, match="cannot download owner/model"):
        import_hf("owner/model", tmp_path / "bundle")
    assert cli_main(["import-hf", "owner/model", "--out", str(tmp_path / "b")]) == 2
    assert "Traceback" not in capsys.readouterr().err


def test_unresolvable_hub_fails_fast(monkeypatch):
    import socket

    from core.bundles.hf_import import OfflineError, _check_hub_reachable

    def no_dns(*args):
        raise socket.gaierror(-2, "Name or service not known")

    for var in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    with pytest.raises(OfflineError, match="offline"):
        _check_hub_reachable("owner/model")
