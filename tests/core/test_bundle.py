import json

import pytest
import torch

import core.bundles.bundle
import core.bundles.verification
from core.bundles.bundle import load_bundle, save_bundle
from core.captioning.tokenizer import CaptionTokenizer
from core.errors import BundleError
from tests.tiny import make_tiny_bundle, tiny_model, train_tokenizer


@pytest.fixture
def bundle(tmp_path):
    return make_tiny_bundle(tmp_path / "b")


def test_round_trip_gives_the_same_model_and_manifest(tmp_path):
    model = tiny_model(seed=1, spread=0.2)
    save_bundle(tmp_path / "b", model, CaptionTokenizer(train_tokenizer()), name="n", description="d",
                licence="MIT", provenance={"source": "test"})
    loaded = load_bundle(tmp_path / "b", verify_hashes=True)
    images, ids = torch.randn(2, 3, 32, 32), torch.randint(0, 320, (2, 5))
    assert torch.equal(loaded.model(images, ids), model(images, ids))
    assert loaded.manifest.name == "n" and loaded.manifest.licence == "MIT"
    assert set(loaded.manifest.files) == {"config.json", "model.safetensors", "tokenizer.json"}
    assert not loaded.model.training


def test_loading_builds_on_the_meta_device(bundle, monkeypatch):
    """No random initialisation is spent on weights that are about to be replaced."""
    devices = []
    original = core.bundles.bundle.VisionGPT2

    def spy(cfg):
        devices.append(torch.get_default_device())
        return original(cfg)

    monkeypatch.setattr(core.bundles.bundle, "VisionGPT2", spy)
    load_bundle(bundle)
    assert devices == [torch.device("meta")]


def test_weights_file_is_safetensors_not_pickle(bundle):
    header_len = int.from_bytes((bundle / "model.safetensors").read_bytes()[:8], "little")
    header = json.loads((bundle / "model.safetensors").read_bytes()[8 : 8 + header_len])
    assert "encoder.cls_token" in header


@pytest.mark.parametrize("name", ["config.json", "model.safetensors", "tokenizer.json", "manifest.json"])
def test_missing_file_is_named(bundle, name):
    (bundle / name).unlink()
    with pytest.raises(BundleError, match=name.replace(".", r"\.") + ": missing"):
        load_bundle(bundle)


def test_truncated_weights_are_reported(bundle):
    path = bundle / "model.safetensors"
    path.write_bytes(path.read_bytes()[:-1000])
    with pytest.raises(BundleError, match=r"model\.safetensors: truncated"):
        load_bundle(bundle)


def test_truncated_weights_without_manifest_sizes_are_still_caught(bundle):
    forget_size(bundle, "model.safetensors")
    path = bundle / "model.safetensors"
    path.write_bytes(path.read_bytes()[:-1000])
    with pytest.raises(BundleError, match=r"model\.safetensors"):
        load_bundle(bundle)


def corrupt_in_the_middle(path):
    """Flip bytes in the middle of a file, keeping its size: a bad disk or copy."""
    data = bytearray(path.read_bytes())
    for i in range(len(data) // 2, len(data) // 2 + 64):
        data[i] ^= 0xFF
    path.write_bytes(bytes(data))


def test_weights_corrupted_in_the_middle_fail_naming_the_file(bundle):
    """Defect 4: same size, so the size check passes; the SHA-256 check catches it by default."""
    corrupt_in_the_middle(bundle / "model.safetensors")
    with pytest.raises(BundleError, match=r"model\.safetensors: corrupt: its SHA-256"):
        load_bundle(bundle)
    load_bundle(bundle, verify_hashes=False)  # sizes match: the cheap check alone passes


@pytest.fixture
def hashed(monkeypatch):
    """Records the files hashed."""
    calls = []
    original = core.bundles.verification.sha256_file
    monkeypatch.setattr(core.bundles.verification, "sha256_file", lambda path: calls.append(path.name) or original(path))
    return calls


def test_verification_is_remembered_until_a_file_changes(bundle, hashed):
    load_bundle(bundle)
    assert sorted(hashed) == ["config.json", "model.safetensors", "tokenizer.json"]
    hashed.clear()
    load_bundle(bundle)
    assert hashed == [], "a verified, unchanged bundle is not hashed again"
    corrupt_in_the_middle(bundle / "model.safetensors")  # a new modification time
    with pytest.raises(BundleError, match=r"model\.safetensors: corrupt"):
        load_bundle(bundle)
    assert hashed == ["model.safetensors"]
    with pytest.raises(BundleError, match=r"model\.safetensors: corrupt"):
        load_bundle(bundle)  # a failed check is not remembered as a pass


def test_verification_cache_lives_in_the_user_cache_folder(bundle, hashed, tmp_path, monkeypatch):
    monkeypatch.setenv("VISIONCAP_HOME", str(tmp_path / "home"))
    load_bundle(bundle)
    assert (tmp_path / "home" / "cache" / "verified-files.json").is_file()
    (tmp_path / "home" / "cache" / "verified-files.json").write_text("{broken")
    hashed.clear()
    load_bundle(bundle)  # an unreadable cache only costs a re-hash
    assert len(hashed) == 3


def test_no_verify_hashes_nothing(bundle, hashed):
    load_bundle(bundle, verify_hashes=False)
    assert hashed == []


def forget_size(bundle, name):
    """Edit a file in place as a user might, without updating the manifest's record of it."""
    manifest = json.loads((bundle / "manifest.json").read_text())
    del manifest["files"][name]
    (bundle / "manifest.json").write_text(json.dumps(manifest))


def test_corrupt_config_json(bundle):
    forget_size(bundle, "config.json")
    (bundle / "config.json").write_text("{not json")
    with pytest.raises(BundleError, match=r"config\.json: invalid JSON at line 1"):
        load_bundle(bundle, verify_hashes=False)


def test_config_that_does_not_match_the_weights(bundle):
    cfg = json.loads((bundle / "config.json").read_text())
    cfg["gpt_width"] = 64
    (bundle / "config.json").write_text(json.dumps(cfg))
    forget_size(bundle, "config.json")
    with pytest.raises(BundleError, match=r"model\.safetensors: tensor decoder\.wte\.weight has shape"):
        load_bundle(bundle)


def test_tokenizer_larger_than_vocabulary(tmp_path):
    with pytest.raises(ValueError, match="tokenizer has"):
        save_bundle(tmp_path / "b", tiny_model(vocab_size=280), CaptionTokenizer(train_tokenizer()), name="x")


def test_bundle_from_a_newer_visioncap(bundle):
    manifest = json.loads((bundle / "manifest.json").read_text())
    manifest["format_version"] = 99
    (bundle / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match="newer"):
        load_bundle(bundle)


def test_not_a_folder(tmp_path):
    with pytest.raises(BundleError, match="not a model bundle folder"):
        load_bundle(tmp_path / "nothing")


def test_half_precision_bundle_is_half_the_size_and_loads_as_float32(tmp_path):
    model = tiny_model(seed=1, spread=0.2)
    tokenizer = CaptionTokenizer(train_tokenizer())
    save_bundle(tmp_path / "full", model, tokenizer, name="full")
    save_bundle(tmp_path / "half", model, tokenizer, name="half", dtype="float16")
    full = (tmp_path / "full" / "model.safetensors").stat().st_size
    half = (tmp_path / "half" / "model.safetensors").stat().st_size
    assert half < 0.55 * full
    loaded = load_bundle(tmp_path / "half")
    assert loaded.model.decoder.wte.weight.dtype == torch.float32
    images, ids = torch.randn(2, 3, 32, 32), torch.randint(0, 320, (2, 5))
    with torch.no_grad():
        assert torch.allclose(loaded.model(images, ids), model(images, ids), atol=0.05)
    with pytest.raises(ValueError, match="dtype"):
        save_bundle(tmp_path / "bad", model, tokenizer, name="bad", dtype="int8")
