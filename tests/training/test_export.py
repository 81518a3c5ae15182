import numpy as np
import onnxruntime as ort
import pytest
import torch

from workbench.training import checkpoints
from workbench.training.export import NormalizedModel, export_model
from workbench.training.predict import load_model


@pytest.mark.filterwarnings("ignore:`torch.jit")
@pytest.mark.parametrize("task", ["segmentation", "multilabel"])
@pytest.mark.parametrize("fmt", ["torchscript", "onnx"])
def test_export_gives_the_models_outputs(make_learner, tmp_path, task: str, fmt: str) -> None:
    learn = make_learner(task)
    learn.fit_one_cycle(1, 1e-3)
    out = export_model(learn.project, learn.run_id, fmt, tmp_path / f"model.{fmt}")
    ckpt = checkpoints.load(learn.checkpoint_dir / checkpoints.LAST)
    ref = NormalizedModel(load_model(ckpt)).eval()
    x = torch.rand(3, 3, 32, 32)
    with torch.no_grad():
        expected = ref(x).numpy()
    if fmt == "onnx":
        got = ort.InferenceSession(str(out)).run(None, {"image": x.numpy()})[0]
    else:
        got = torch.jit.load(str(out))(x).detach().numpy()
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)


def test_the_model_card_says_how_to_read_the_outputs(make_learner, tmp_path) -> None:
    import json

    learn = make_learner("multilabel")
    learn.fit_one_cycle(1, 1e-3)
    run = learn.project.db.get_run(learn.run_id)
    out = export_model(learn.project, None, "torchscript", tmp_path / "m.pt")  # the model
    card = json.loads((tmp_path / "m.pt.json").read_text())
    assert card["run"] == learn.run_id and card["classes"] == learn.project.classes
    assert card["threshold"] == pytest.approx(run.threshold) and card["size"] == 32
    assert "sigmoid(logit) >= threshold" in card["output"] and out == tmp_path / "m.pt"
