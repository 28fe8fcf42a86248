import pytest


@pytest.fixture(scope="session")
def tiny_transformers(tmp_path_factory):
    """For each family (florence2, blip, git): (checkpoint folder as save_pretrained wrote it,
    the VisionCap model folder imported from it, the model, its processor). Built once, shared
    read-only by the session."""
    from core.bundles.hf_import import import_hf
    from tests.core.tiny_transformers import BUILDERS, save_checkpoint

    root = tmp_path_factory.mktemp("tiny-transformers")
    made = {}
    for family in BUILDERS:
        checkpoint, folder = root / f"{family}-checkpoint", root / f"tiny-{family}"
        model, processor = save_checkpoint(family, checkpoint)
        import_hf(checkpoint, folder, name=f"tiny-{family}")
        made[family] = (checkpoint, folder, model, processor)
    return made
