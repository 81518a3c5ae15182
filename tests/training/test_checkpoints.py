import pytest
import torch

from workbench.core.runs import RunStatus
from workbench.training import checkpoints
from workbench.training.errors import TrainingError
from workbench.training.events import FunctionCallback
from workbench.training.session import build_learner, resume_run, train


def test_checkpoint_contents_load_with_weights_only(make_learner) -> None:
    mid_run: list[tuple[dict, int]] = []  # the checkpoint as a killed or stopped run leaves it

    def keep(lrn) -> None:
        file = lrn.checkpoint_dir / checkpoints.LAST
        mid_run.append((torch.load(file, weights_only=True), file.stat().st_size))

    learn = make_learner(callbacks=[FunctionCallback(order=15, after_epoch=keep)])  # after saving
    learn.fit_one_cycle(2, 1e-3)
    assert mid_run[0][0]["optimizer"]["state"], "a run that may be resumed keeps its moments"
    path = learn.checkpoint_dir / checkpoints.LAST
    ckpt = torch.load(path, weights_only=True)  # must not need pickle of any class
    assert ckpt["classes"] == ["background", "shape"] and ckpt["task"] == "segmentation"
    assert ckpt["config"]["arch"] == "resnet18" and ckpt["size"] == 32
    assert len(ckpt["history"]["epochs"]) == 2 and ckpt["schedule"]["epoch_done"] == 2
    assert ckpt["optimizer"] is None, "a finished run keeps only the model"
    assert path.stat().st_size < 0.5 * mid_run[-1][1]  # Adam's two moments per weight gone
    other = make_learner()
    checkpoints.load_into(other, mid_run[-1][0])  # the last epoch, as a resume reads it
    x = torch.randn(1, 3, 32, 32)
    learn.model.eval(), other.model.eval()
    with torch.no_grad():
        assert torch.equal(learn.model(x), other.model(x))
    assert other.recorder.epochs == learn.recorder.epochs


def test_resume_continues_the_schedule(seg_project, config_factory) -> None:
    tiny_config = config_factory
    full = build_learner(seg_project, tiny_config())
    full.fit_one_cycle(3, 2e-3)

    def stop_after_two(learn):
        if learn.state.epoch == 1:
            learn.cancel()

    part = build_learner(seg_project, tiny_config(), [FunctionCallback(before_epoch=stop_after_two)])
    part.fit_one_cycle(3, 2e-3)
    assert part.state.cancelled and len(part.recorder.epochs) == 1
    resumed = build_learner(seg_project, tiny_config(), run_id=part.run_id)
    checkpoints.resume_fit(resumed, part.checkpoint_dir / checkpoints.LAST)
    assert len(resumed.recorder.epochs) == 3
    assert resumed.recorder.lrs == pytest.approx(full.recorder.lrs)
    assert resumed.recorder.moms == pytest.approx(full.recorder.moms)


def test_resume_run_finishes_remaining_stages(seg_project, config_factory) -> None:
    tiny_config = config_factory
    cfg = tiny_config(epochs=1, freeze_epochs=1, resize=[32, 40])

    def stop_at_second_stage(learn):
        if learn.stage_index == 1:
            learn.cancel()

    learn = train(seg_project, cfg, [FunctionCallback(before_fit=stop_at_second_stage)])
    assert len(learn.recorder.epochs) == 1
    assert seg_project.db.get_run(learn.run_id).status is RunStatus.CANCELLED
    resumed = resume_run(seg_project, learn.run_id)
    assert len(resumed.recorder.epochs) == 3  # 3 stages x 1 epoch: 32px twice, then 40px
    assert resumed.data.size == 40
    assert seg_project.db.get_run(learn.run_id).status is RunStatus.FINISHED
    with pytest.raises(TrainingError, match="is finished; only a stopped"):
        resume_run(seg_project, learn.run_id)


def test_bad_checkpoint_files(tmp_path) -> None:
    with pytest.raises(TrainingError, match="does not exist"):
        checkpoints.load(tmp_path / "missing.pt")
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(TrainingError, match="cannot read"):
        checkpoints.load(junk)
    other = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(2)}, other)
    with pytest.raises(TrainingError, match="not a Workbench checkpoint"):
        checkpoints.load(other)
