"""`workbench lr-find`, `train`, `predict` and model `export` end to end on a tiny project."""

import csv
import io
import json

from workbench.cli import main
from workbench.core.project import Project
from workbench.training.progress import ConsoleProgress
from workbench.training.reports import (
    BatchEnd,
    EpochEnd,
    FitEnded,
    FitStarted,
    LRFindDone,
    LRFindStep,
    PlannedPhase,
    RunPlan,
)

FAST = ["--size", "32", "--bs", "4", "--arch", "resnet18", "--pretrained", "none"]


def test_train_lr_find_predict_export(seg_project, tmp_path, capsys) -> None:
    root = seg_project.root
    seg_project.close()  # the CLI opens the project itself (and takes its lock)
    log = tmp_path / "log.jsonl"
    rc = main(["train", str(root), "--epochs", "2", "--lr", "1e-3", *FAST,
               "--log-jsonl", str(log)])
    assert rc == 0
    out = capsys.readouterr().out
    assert "train_loss" in out and "valid_loss" in out and "dice_mean" in out
    records = [json.loads(line) for line in log.read_text().splitlines()]
    batches = [r for r in records if r["type"] == "batch"]
    epochs = [r for r in records if r["type"] == "epoch"]
    assert batches and {"epoch", "iter", "lr", "mom", "loss", "smooth_loss"} <= set(batches[0])
    assert len(epochs) == 2
    assert {"epoch", "train_loss", "valid_loss", "dice_mean", "pixel_acc"} <= set(epochs[0])

    lr_json = tmp_path / "lr.json"
    assert main(["lr-find", str(root), *FAST, "--num-it", "10", "--json", str(lr_json)]) == 0
    data = json.loads(lr_json.read_text())
    assert len(data["lrs"]) == len(data["losses"]) == 10
    assert set(data["suggestions"]) == {"valley", "steep", "minimum"}

    assert main(["predict", str(root), "--images", "valid"]) == 0
    with Project.open(root, readonly=True) as project:
        run_id = project.db.list_runs()[0].run_id
        n_valid = len(project.split()[1])
    pred_dir = root / "predictions" / run_id
    assert len(list(pred_dir.glob("*.png"))) == n_valid

    onnx = tmp_path / "model.onnx"
    assert main(["export", str(root), "--run", run_id, "--format", "onnx", "--out",
                 str(onnx)]) == 0
    assert onnx.stat().st_size > 1000


def test_multilabel_predict_csv_via_cli(tag_project, tmp_path) -> None:
    root = tag_project.root
    tag_project.close()
    assert main(["train", str(root), "--epochs", "1", "--lr", "1e-3", *FAST]) == 0
    out = tmp_path / "preds"
    assert main(["predict", str(root), "--out", str(out)]) == 0
    with open(out / "predictions.csv") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["image_name", "red", "green", "blue"] and len(rows) == 17


def test_cli_errors_are_one_line(seg_project, capsys) -> None:
    root = seg_project.root
    seg_project.close()
    assert main(["predict", str(root)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("workbench: error:") and "no trained model" in err
    assert main(["train", str(root), "--epochs", "1", *FAST, "--device", "cuda:7"]) == 1


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_console_progress_bar_and_epoch_table() -> None:
    out = FakeTerminal()
    now = [0.0]
    show = ConsoleProgress(out, clock=lambda: now[0])
    show(FitStarted("frozen 64px", 1, 4, 4, ["dice_mean", "dice_nucleus", "pixel_acc"], "r1"))
    for i in range(4):
        now[0] += 1.0
        show(BatchEnd(0, i, i, 4, 1e-3, 0.9, 0.5, 0.4321))
    show(EpochEnd(0, 0.5, 0.25, {"dice_mean": 0.75, "dice_nucleus": 0.5, "pixel_acc": 0.9}, 65.0))
    show(FitEnded(True, None, "r1", 0.75))
    text = out.getvalue().replace("\x1b[K", "")
    header = next(line for line in text.splitlines() if "train_loss" in line).split()
    assert header == ["epoch", "train_loss", "valid_loss", "dice_mean", "pixel_acc", "time"]
    drawn = [part for part in text.split("\r") if part.startswith("[")]
    assert drawn[0].endswith("] Stage 1 of 1 · epoch 1/1 · batch 1/4 · loss 0.4321")
    assert drawn[-1].startswith("[" + "#" * 27)  # by time: the validation is still to come
    row = next(line for line in text.splitlines() if line.split()[:1] == ["0"]).split()
    assert row == ["0", "0.500000", "0.250000", "0.750000", "0.900000", "01:05"]
    assert "cancelled" in text and "checkpoint is kept" in text
    plain = io.StringIO()  # not a terminal (a log file): no bar, only the table
    ConsoleProgress(plain)(BatchEnd(0, 0, 0, 4, 1e-3, 0.9, 0.5, 0.4))
    assert plain.getvalue() == ""


def test_console_progress_names_the_phase_and_the_time_left_of_the_whole_plan() -> None:
    """The CLI's line says what the window's bar says: the sweep, then the stage with the time
    left of everything planned (here: a 20-batch sweep, then two stages of 2 x 5 batches)."""
    out = FakeTerminal()
    now = [0.0]
    show = ConsoleProgress(out, clock=lambda: now[0])
    show(RunPlan([PlannedPhase("sweep", 20, "frozen"), PlannedPhase("stage", 2, "frozen", 5, 1),
                  PlannedPhase("stage", 2, "unfrozen", 5, 1)], 8))
    shown = []
    for i in range(1, 21):
        now[0] += 1.0
        show(LRFindStep(i, 20, 1e-4 * i, 0.5))
        shown.append(out.getvalue().split("\r")[-1].replace("\x1b[K", ""))
    assert shown[0].endswith("] Finding the learning rate · 1/20")  # nothing timed yet
    # 22 batches of a second left (without the start-ups and validations): about 20 s or more
    assert "Finding the learning rate · 10/20 · about" in shown[9]
    left = int(shown[9].split("about ")[1].split(" s left")[0])
    assert 20 <= left <= 60
    show(LRFindDone([1e-4], [0.5], {"valley": 1e-3}))
    show(FitStarted("frozen", 2, 5, 10, ["dice_mean"], "r1"))
    now[0] += 1.0
    show(BatchEnd(0, 0, 0, 10, 1e-3, 0.9, 0.5, 0.4))
    assert "Stage 1 of 2 · epoch 1/2 · batch 1/5 · about" in out.getvalue().split("\r")[-1]
