"""import-hf and install_model for Florence-2, BLIP and GIT checkpoints: safetensors kept, pickles
converted through the weights-only unpickler or refused, remote code refused, installs atomic."""

import json
import os
import shutil

import pytest
import torch
from safetensors.torch import load_file

from core.bundles.checkpoint_weights import distinct_storage
from core.bundles.hf_import import import_hf, install_model
from core.captioning.catalogue import installed_dir, models_root
from core.captioning.generation_settings import GenerationSettings
from core.captioning.loading import load_captioner
from core.cli.main import main as cli_main
from core.errors import BundleError, ImportFormatError
from tests.core.tiny_transformers import pictures

GREEDY = GenerationSettings(max_new_tokens=10)


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A models folder of this test's own."""
    monkeypatch.setenv("VISIONCAP_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def captions(folder, **kwargs):
    return [r.caption for r in load_captioner(folder, device="cpu", **kwargs).caption(pictures(), GREEDY, batch_size=5)]


def test_the_folder_holds_configs_tokenizer_safetensors_and_a_manifest(tiny_transformers):
    _, folder, _, _ = tiny_transformers["florence2"]
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["kind"] == "transformers" and manifest["family"] == "florence2"
    assert manifest["model_class"] == "Florence2ForConditionalGeneration"
    assert sorted(manifest["files"]) == sorted(p.name for p in folder.iterdir() if p.name != "manifest.json")
    assert all(len(f["sha256"]) == 64 for f in manifest["files"].values())
    assert not [p for p in folder.iterdir() if p.suffix in (".bin", ".py", ".pt", ".pth")]


def test_pickled_only_checkpoint_is_converted_with_the_weights_only_unpickler(tiny_transformers, tmp_path):
    checkpoint, folder, model, _ = tiny_transformers["blip"]
    pickled = shutil.copytree(checkpoint, tmp_path / "pickled")
    (pickled / "model.safetensors").unlink()
    torch.save(model.state_dict(), pickled / "pytorch_model.bin")
    assert cli_main(["import-hf", str(pickled), "--out", str(tmp_path / "out")]) == 0
    out = tmp_path / "out"
    assert (out / "model.safetensors").is_file() and not (out / "pytorch_model.bin").exists()
    assert captions(out) == captions(folder)


class RunsCode:
    """Unpickling this calls os.mkdir(marker): what a malicious checkpoint would do."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return os.mkdir, (self.marker,)


def test_a_pickle_holding_anything_but_tensors_is_refused_unrun(tiny_transformers, tmp_path):
    checkpoint, _, _, _ = tiny_transformers["git"]
    pickled = shutil.copytree(checkpoint, tmp_path / "pickled")
    state = load_file(pickled / "model.safetensors")
    (pickled / "model.safetensors").unlink()
    marker = tmp_path / "the-pickle-ran"
    torch.save({**state, "payload": RunsCode(marker)}, pickled / "pytorch_model.bin")
    with pytest.raises(ImportFormatError, match=r"pytorch_model\.bin: refused"):
        import_hf(pickled, tmp_path / "out")
    assert not marker.exists() and not (tmp_path / "out").exists()


def test_tied_tensors_of_a_pickle_are_stored_apart():
    shared = torch.arange(6.0).view(2, 3)
    state = distinct_storage({"embed.weight": shared, "lm_head.weight": shared, "other": torch.ones(2)})
    assert torch.equal(state["embed.weight"], state["lm_head.weight"])
    assert state["embed.weight"].untyped_storage().data_ptr() != state["lm_head.weight"].untyped_storage().data_ptr()


def test_a_checkpoint_naming_remote_code_is_refused_with_the_native_repository(tiny_transformers, tmp_path, capsys):
    checkpoint, _, _, _ = tiny_transformers["florence2"]
    remote = shutil.copytree(checkpoint, tmp_path / "remote")
    config = json.loads((remote / "config.json").read_text())
    config["auto_map"] = {"AutoConfig": "configuration_florence2.Florence2Config"}
    (remote / "config.json").write_text(json.dumps(config))
    with pytest.raises(BundleError, match=r"remote code.*florence-community/Florence-2-base"):
        import_hf(remote, tmp_path / "out")
    assert cli_main(["import-hf", str(remote), "--out", str(tmp_path / "out")]) == 2
    assert "remote code" in capsys.readouterr().err and not (tmp_path / "out").exists()


def test_an_unknown_model_type_is_named(tiny_transformers, tmp_path):
    checkpoint, _, _, _ = tiny_transformers["git"]
    other = shutil.copytree(checkpoint, tmp_path / "other")
    config = json.loads((other / "config.json").read_text())
    config["model_type"] = "llava"
    (other / "config.json").write_text(json.dumps(config))
    with pytest.raises(ImportFormatError, match="model_type 'llava' is not one VisionCap imports"):
        import_hf(other, tmp_path / "out")


class Hub:
    """Stands in for huggingface_hub: serves a checkpoint folder, records what was asked."""

    def __init__(self, served, monkeypatch, fail_after_config=False):
        import huggingface_hub

        import core.bundles.hf_import as hf_import

        self.served, self.asked, self.fail = served, [], fail_after_config
        monkeypatch.setattr(huggingface_hub, "snapshot_download", self.snapshot_download)
        monkeypatch.setattr(huggingface_hub, "HfApi", lambda: self)
        monkeypatch.setattr(hf_import, "_check_hub_reachable", lambda repo_id: None)

    def list_repo_files(self, repo_id, revision=None):
        return [p.name for p in self.served.iterdir()]

    def snapshot_download(self, repo_id, allow_patterns=None, cache_dir=None):
        self.asked.append((repo_id, allow_patterns))
        if self.fail and allow_patterns != ["config.json"]:
            raise ConnectionError("connection reset")
        return str(self.served)


def test_hub_config_naming_remote_code_is_refused_before_the_weights_download(tiny_transformers, tmp_path, monkeypatch):
    remote = shutil.copytree(tiny_transformers["florence2"][0], tmp_path / "remote")
    config = json.loads((remote / "config.json").read_text())
    (remote / "config.json").write_text(json.dumps({**config, "auto_map": {"AutoConfig": "x.Y"}}))
    hub = Hub(remote, monkeypatch)
    with pytest.raises(BundleError, match="remote code"):
        import_hf("microsoft/Florence-2-base", tmp_path / "out")
    assert hub.asked == [("microsoft/Florence-2-base", ["config.json"])]


def test_install_model_downloads_the_catalogue_source_into_the_models_folder(tiny_transformers, home, monkeypatch):
    checkpoint, folder, _, _ = tiny_transformers["florence2"]
    hub = Hub(checkpoint, monkeypatch)
    messages = []
    target = install_model("florence-2-base", progress=messages.append)
    assert target == installed_dir("florence-2-base") and hub.asked[-1][0] == "florence-community/Florence-2-base"
    assert any("Downloading florence-community/Florence-2-base (about 0.5 GB)" in m for m in messages)
    manifest = json.loads((target / "manifest.json").read_text())
    assert manifest["name"] == "florence-2-base" and manifest["licence"] == "MIT"
    assert sorted(p.name for p in models_root().iterdir()) == ["florence-2-base"]  # nothing half-written left
    captioner = load_captioner("florence-2-base", device="cpu", style="detailed")
    assert captioner.info.title == "Florence-2 base" and captioner.style == "detailed"
    assert captions("florence-2-base") == captions(folder)


def test_a_failed_install_leaves_no_folder_and_keeps_an_earlier_one(tiny_transformers, home, monkeypatch):
    checkpoint, _, _, _ = tiny_transformers["git"]
    Hub(checkpoint, monkeypatch)
    install_model("git-base-coco")
    before = (installed_dir("git-base-coco") / "manifest.json").read_text()
    Hub(checkpoint, monkeypatch, fail_after_config=True)
    with pytest.raises(Exception, match="connection reset"):
        install_model("git-base-coco")
    assert sorted(p.name for p in models_root().iterdir()) == ["git-base-coco"]
    assert (installed_dir("git-base-coco") / "manifest.json").read_text() == before


def test_a_catalogue_model_not_installed_says_how_to_install_it(home):
    with pytest.raises(BundleError, match=r"BLIP base .* is not installed; install it with: visioncap import-hf blip-base"):
        load_captioner("blip-base")
    with pytest.raises(BundleError, match="not a model folder, nor a model VisionCap knows"):
        load_captioner("no-such-model")


def test_cli_import_hf_with_a_name_installs_it(tiny_transformers, home, monkeypatch, capsys):
    Hub(tiny_transformers["blip"][0], monkeypatch)
    assert cli_main(["import-hf", "blip-base"]) == 0
    assert (installed_dir("blip-base") / "manifest.json").is_file()
    with pytest.raises(SystemExit) as usage:
        cli_main(["import-hf", str(tiny_transformers["blip"][0])])
    assert usage.value.code == 2
    assert "--out is needed unless SRC is a model name" in capsys.readouterr().err
