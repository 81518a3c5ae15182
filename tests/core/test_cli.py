"""The project commands: new, import, info, export, demo."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from workbench import cli
from workbench.core.project import Project

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def only_project_commands(monkeypatch: pytest.MonkeyPatch) -> None:
    # Test these commands on their own, independent of the training/GUI command modules.
    monkeypatch.setattr(cli, "COMMAND_MODULES", ("workbench.cli.project_cmds",))


def run(capsys: pytest.CaptureFixture[str], *argv: object) -> tuple[int, str, str]:
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("command", ["new", "import", "info", "export", "demo"])
def test_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main([command, "--help"])
    assert exc.value.code == 0
    assert f"workbench {command}" in capsys.readouterr().out


def test_new_import_info_export_segmentation(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "codes.txt").write_text("bg\nthing\n")
    code, out, _ = run(capsys, "new", tmp_path / "p", "--task", "segmentation",
                       "--codes", tmp_path / "codes.txt")
    assert code == 0 and "2 classes: bg, thing" in out
    for i in range(3):
        Image.new("RGB", (8, 8)).save(tmp_path / f"i{i}.png")
    (tmp_path / "lab").mkdir()
    Image.fromarray(np.ones((8, 8), np.uint8)).save(tmp_path / "lab" / "i0_P.png")
    (tmp_path / "broken.png").write_bytes(b"nope")
    code, out, _ = run(capsys, "import", tmp_path / "p", "--images", tmp_path, "--masks",
                       tmp_path / "lab", "--mask-pattern", "{stem}_P.png")
    assert code == 0
    assert "Imported 3 image(s)" in out and "1 with labels" in out and "broken.png" in out
    code, out, _ = run(capsys, "info", tmp_path / "p", "--json")
    info = json.loads(out)
    assert info["images"] == 3 and info["status"]["labelled"] == 1
    assert info["per_class"] == {"bg": 0, "thing": 1}
    code, out, _ = run(capsys, "info", tmp_path / "p")
    assert code == 0 and "images: 3  unlabelled: 2  labelled: 1" in out
    code, out, _ = run(capsys, "export", tmp_path / "p", "--format", "palette",
                       "--out", tmp_path / "pal")
    assert code == 0 and (tmp_path / "pal" / "i0.png").exists()
    code, _, err = run(capsys, "export", tmp_path / "p", "--format", "csv", "--out", tmp_path)
    assert code == 1 and err.startswith("workbench: error: Cannot export labels.csv")


def test_multilabel_csv_import_and_export(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "new", tmp_path / "p", "--task", "multilabel")[0] == 0
    Image.new("RGB", (8, 8)).save(tmp_path / "a.png")
    (tmp_path / "l.csv").write_text("image_name,tags\na,cat dog\n")
    code, out, _ = run(capsys, "import", tmp_path / "p", "--images", tmp_path,
                       "--csv", tmp_path / "l.csv")
    assert code == 0 and "1 with labels" in out
    code, out, _ = run(capsys, "export", tmp_path / "p", "--format", "csv",
                       "--out", tmp_path / "x.csv")
    assert code == 0 and (tmp_path / "x.csv").read_text() == "image_name,tags\na,cat dog\n"


def test_failures_are_one_line_with_exit_1(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "info", tmp_path / "missing")
    assert code == 1 and err.count("\n") == 1 and "missing does not exist" in err
    code, _, err = run(capsys, "new", tmp_path / "p", "--task", "segmentation")
    assert code == 1 and "needs classes" in err
    run(capsys, "new", tmp_path / "p", "--task", "segmentation", "--classes", "a,b")
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "x.png").write_bytes(b"garbage")
    code, out, _ = run(capsys, "import", tmp_path / "p", "--images", tmp_path / "junk")
    assert code == 1 and "x.png" in out
    code, _, err = run(capsys, "export", tmp_path / "p", "--format", "onnx",
                       "--out", tmp_path / "m.onnx")
    assert code == 1 and "no trained model yet" in err


def test_import_options_for_another_source_are_refused(tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, "new", tmp_path / "p", "--task", "segmentation", "--classes", "a,b")
    Image.new("RGB", (8, 8)).save(tmp_path / "a.png")
    for extra, wanted in ((["--codes", tmp_path / "c.txt"], "--codes only applies to a mask import"),
                          (["--mask-pattern", "{stem}_P.png"], "--mask-pattern only applies"),
                          (["--add-tags"], "--add-tags only applies")):
        code, _, err = run(capsys, "import", tmp_path / "p", "--images", tmp_path, *extra)
        assert code == 1 and wanted in err and err.count("\n") == 1
    with Project.open(tmp_path / "p", readonly=True) as project:
        assert project.image_names() == []  # refused before anything was imported


def test_usage_mistakes_exit_2_with_the_usage(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        cli.main(["new", "somewhere", "--task", "painting"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: workbench new") and "invalid choice: 'painting'" in err


def test_demo_then_info_json_in_a_subprocess(tmp_path: Path) -> None:
    """The issue's acceptance check, through the real entry point."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    demo = subprocess.run([sys.executable, "-m", "workbench", "demo", "--no-gui", "--dir",
                           str(tmp_path / "d")], capture_output=True, text=True, env=env, check=False)
    assert demo.returncode == 0, demo.stderr
    assert demo.stdout.strip() == str(tmp_path / "d")
    info = subprocess.run([sys.executable, "-m", "workbench", "info", str(tmp_path / "d"),
                           "--json"], capture_output=True, text=True, env=env, check=False)
    assert info.returncode == 0, info.stderr
    data = json.loads(info.stdout)
    assert data["images"] == 60 and data["labelled"] == 40
    assert data["status"] == {"unlabelled": 20, "labelled": 40, "reviewed": 0}
    assert data["split"]["train"] == 32 and data["split"]["valid"] == 8
    assert data["per_class"]["background"] == 40


def test_demo_opens_the_window_unless_no_gui(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    opened: list[Path] = []
    fake_app = types.ModuleType("workbench.app")
    fake_app.run_app = lambda path: opened.append(path) or 7  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "workbench.app", fake_app)  # no Qt in core tests
    code, out, _ = run(capsys, "demo", "--task", "multilabel", "--dir", tmp_path / "d")
    assert code == 7 and opened == [tmp_path / "d"] and out.strip() == str(tmp_path / "d")
    code, _, _ = run(capsys, "demo", "--task", "multilabel", "--dir", tmp_path / "d", "--no-gui")
    assert code == 0 and len(opened) == 1
