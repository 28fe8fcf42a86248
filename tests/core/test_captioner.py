import subprocess
import sys
from pathlib import Path

import pytest
import torch
from PIL import Image

from core.captioning.captioner import Captioner
from core.captioning.device import resolve_device, resolve_precision
from core.captioning.generation import GenerationSettings


@pytest.fixture(scope="module")
def captioner(tiny_bundle):
    return Captioner.load(tiny_bundle, device="cpu", precision="fp32")


def test_a_bad_image_never_aborts_the_batch(captioner, tmp_path):
    good = tmp_path / "good.png"
    Image.new("RGB", (30, 30), "red").save(good)
    (tmp_path / "bad.jpg").write_bytes(b"garbage")
    (tmp_path / "empty.png").write_bytes(b"")
    sources = [good, tmp_path / "bad.jpg", Image.new("L", (10, 10)), tmp_path / "empty.png", tmp_path / "gone.png"]
    results = captioner.caption(sources, GenerationSettings(max_new_tokens=5), batch_size=2)
    assert [r.ok for r in results] == [True, False, True, False, False]
    assert results[0].source == str(good) and results[2].source == "<image 2>"
    assert results[1].error.startswith("not an image")
    assert results[3].error.startswith("empty file")
    assert results[4].error == "file not found"
    assert results[0].caption and results[2].caption


def test_batch_size_does_not_change_captions(captioner):
    images = [Image.new("RGB", (30, 30), c) for c in ("red", "green", "blue", "white", "black")]
    settings = GenerationSettings(max_new_tokens=8)
    one = [r.caption for r in captioner.caption(images, settings, batch_size=1)]
    four = [r.caption for r in captioner.caption(images, settings, batch_size=4)]
    assert one == four


def test_results_arrive_batch_by_batch(captioner):
    images = [Image.new("RGB", (30, 30), "red")] * 5
    sizes = [len(b) for b in captioner.caption_batches(images, GenerationSettings(max_new_tokens=2), batch_size=2)]
    assert sizes == [2, 2, 1]


class TickingClock:
    """perf_counter for core.captioning.threads and core.captioning.captioner: 1 ms more at every reading, plus what
    the test adds. Time passes only where the test says, however loaded the machine is."""

    def __init__(self):
        self.now = 0.0

    def perf_counter(self) -> float:
        self.now += 0.001
        return self.now


def test_the_thread_policy_times_the_pipeline_not_the_caller(captioner, monkeypatch):
    """Every batch but a run's last is counted, and the time the caller spends between batches
    is not: a caller that holds each batch for 100 s (on the test's clock) leaves the recorded
    costs at the pipeline's few clock readings, far below 100 s / 2 images."""
    from core.captioning.threads import ThreadPolicy

    clock = TickingClock()
    monkeypatch.setattr("core.captioning.threads.time", clock)
    monkeypatch.setattr("core.captioning.captioner.time", clock)
    captioner.threads = ThreadPolicy(parameters=captioner.parameters)
    images = [Image.new("RGB", (30, 30), "red")] * 7
    for _ in captioner.caption_batches(images, GenerationSettings(max_new_tokens=2), batch_size=2):
        clock.now += 100.0
    recorded = [cost for costs in captioner.threads.tuner.recent.values() for cost in costs]
    assert len(recorded) == 3  # 4 batches, the last one uncounted
    assert all(0 < cost < 1.0 for cost in recorded), recorded
    assert captioner.parameters < 1_000_000 and set(captioner.threads.tuner.recent) == {1}  # small: one thread


def test_decodes_shared_with_thumbnails_give_the_same_captions(captioner, tmp_path):
    """The app's thumbnails leave their JPEG decodes for the model: it takes them instead of
    decoding again, and captions exactly as it does alone."""
    from core.images.reading import SharedDecodes, load_image
    from tests.core.test_images import big_jpeg

    photos = [big_jpeg(tmp_path / f"p{i}.jpg", seed=i) for i in range(3)]
    settings = GenerationSettings(max_new_tokens=6)
    alone = [r.caption for r in captioner.caption(photos, settings)]
    shared = SharedDecodes()
    for photo in photos[:2]:
        load_image(photo, min_size=128, shared=shared)  # what the gallery's loader does
    captioner.shared_decodes = shared
    try:
        together = [r.caption for r in captioner.caption(photos, settings)]
    finally:
        captioner.shared_decodes = None
    assert shared.hits == 2 and len(shared) == 1  # two taken; the third decode left for the gallery
    assert together == alone


def test_preprocessing_normalises_with_the_bundle_settings(captioner):
    array = captioner._prepare(Image.new("RGB", (64, 48), (255, 0, 0)))
    assert array.shape == (3, 32, 32)
    pixels = (torch.from_numpy(array) - captioner._mean) / captioner._std
    assert torch.allclose(pixels[:, 0, 0], torch.tensor([1.0, -1.0, -1.0]))


def test_device_and_precision_choice():
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA"):
            resolve_device("cuda")
    assert resolve_precision("auto", torch.device("cuda")) == "fp16"
    assert resolve_precision("auto", torch.device("cpu")) in ("fp32", "bf16")
    with pytest.raises(ValueError):
        resolve_precision("int3", torch.device("cpu"))


def test_bf16_precision_runs_on_cpu(tiny_bundle):
    captioner = Captioner.load(tiny_bundle, device="cpu", precision="bf16")
    result = captioner.caption([Image.new("RGB", (30, 30), "red")], GenerationSettings(max_new_tokens=4))
    assert result[0].ok


def test_core_imports_neither_qt_nor_training_nor_transformers_on_the_caption_path(tiny_bundle):
    script = (
        "import sys\n"
        "import core.bundles.bundle, core.captioning.captioner, core.cli.main, core.csvio, core.captioning.generation, core.images.reading, core.captioning.model\n"
        "from PIL import Image\n"
        "from core.captioning.captioner import Captioner\n"
        f"Captioner.load({str(tiny_bundle)!r}).caption([Image.new('RGB', (9, 9))])\n"
        "bad = [m for m in ('PySide6', 'training', 'visioncap_desktop', 'transformers') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


def test_no_core_module_imports_the_app_or_training():
    from pathlib import Path

    import core

    for path in Path(core.__file__).parent.glob("*.py"):
        text = path.read_text(encoding="utf-8")
        for forbidden in ("import PySide6", "from PySide6", "visioncap_desktop", "from training", "import training"):
            assert forbidden not in text, f"{path.name} mentions {forbidden}"


def test_low_precision_weights_give_exactly_the_autocast_result():
    """Captioner stores Linear/Conv weights in bf16 once; autocast would cast them to the same
    values at every call, so the logits are identical, in half the memory."""
    import copy

    from core.captioning.captioner import precision_context, set_precision
    from tests.tiny import tiny_model

    model = tiny_model(spread=0.2)
    cast = copy.deepcopy(model)
    set_precision(cast, "bf16", torch.device("cpu"))
    assert cast.decoder.h[0].mlp.c_fc.weight.dtype == torch.bfloat16
    assert cast.decoder.wte.weight.dtype == torch.float32  # embeddings and norms stay fp32
    assert cast.encoder.blocks[0].norm1.weight.dtype == torch.float32
    images, ids = torch.randn(2, 3, 32, 32), torch.randint(0, 320, (2, 6))
    for block in model.encoder.blocks:  # set_precision picks explicit attention for bf16 on CPUs
        block.attn.fused_attn = False
    with torch.no_grad(), precision_context("bf16", torch.device("cpu")):
        assert torch.equal(model(images, ids), cast(images, ids))
    set_precision(cast, "fp32", torch.device("cpu"))
    assert cast.decoder.h[0].mlp.c_fc.weight.dtype == torch.float32
    assert cast.encoder.blocks[0].attn.fused_attn


def test_generation_benchmark_runs(tmp_path):
    """benchmarks/generate.py on tiny models: keeps the script from rotting."""
    from pathlib import Path

    script = Path(__file__).resolve().parents[2] / "benchmarks" / "generate.py"
    result = subprocess.run(
        [sys.executable, str(script), "--tiny", "--batch-sizes", "1", "2", "--repeats", "1"],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    # the fp32 row is labelled "(default here)" on CPUs without bf16: match the row, not the label
    rows = [line for line in result.stdout.splitlines() if line.startswith("| VisionCap fp32")]
    assert len(rows) == 2 and all(row.count("|") == 6 for row in rows), result.stdout  # one per batch size
    assert "recompute loop" in result.stdout


def test_the_parameter_count_includes_the_packed_decoder(tiny_bundle):
    """On the CPU in fp32 the decoder's projections are packed for oneDNN, outside parameters();
    the count the thread policy reads is the model's whole one."""
    from core.bundles.bundle import load_bundle

    whole = sum(p.numel() for p in load_bundle(tiny_bundle).model.parameters())
    captioner = Captioner.load(tiny_bundle, device="cpu", precision="fp32")
    assert captioner.parameters == whole


def test_int8_on_the_cpu_keeps_a_trained_models_captions_and_cannot_change_precision_again():
    """--precision int8: every Linear dynamically quantised (the CPU only, never picked by auto);
    on the trained demo bundle and its sample pictures the captions are fp32's (agreement on
    trained models: benchmarks/precision_agreement.py), and an int8 model refuses another
    precision."""
    import warnings

    from core.bundles.resources import demo_bundle_path
    from core.captioning.quantized import DynamicQuantizedLinear

    samples = sorted((Path(__file__).resolve().parents[2] / "visioncap_desktop" / "assets" / "samples").glob("*.*g"))
    fp32 = [r.caption for r in Captioner.load(demo_bundle_path(), device="cpu", precision="fp32").caption(samples)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # torch.ao's deprecation notices never reach the user
        int8 = Captioner.load(demo_bundle_path(), device="cpu", precision="int8")
        assert [r.caption for r in int8.caption(samples)] == fp32
    assert int8.precision == "int8" and len(fp32) == 4
    assert any(isinstance(m, DynamicQuantizedLinear) for m in int8.model.modules())
    assert not any(type(m) is torch.nn.Linear for m in int8.model.modules())
    with pytest.raises(ValueError, match="load the bundle again"):
        int8.to("cpu", "fp32")
    with pytest.raises(ValueError, match="CPU only"):
        resolve_precision("int8", torch.device("cuda"))
    assert resolve_precision("auto", torch.device("cpu")) in ("fp32", "bf16")
