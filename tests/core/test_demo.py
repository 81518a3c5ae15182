"""The bundled demo projects."""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench.core import demo
from workbench.core.demo import create_demo, default_demo_dir
from workbench.core.errors import ProjectError
from workbench.core.project import Project, Status, Task


def test_nuclei_demo_contents(nuclei_project: Project) -> None:
    assert nuclei_project.task is Task.SEGMENTATION
    assert nuclei_project.classes == ["background", "nucleus"]
    assert len(nuclei_project.image_names()) == 60
    statuses = nuclei_project.statuses()
    # Every third slice starts unlabelled, with no mask in the project; its mask stays in
    # resources/ for tests.
    unlabelled = sorted(n for n, s in statuses.items() if s == Status.UNLABELLED)
    assert unlabelled == [f"nuclei_z{i:02d}.png" for i in range(1, 60, 3)]
    assert unlabelled == demo.nuclei_unlabelled(nuclei_project.image_names())
    assert sum(s == Status.LABELLED for s in statuses.values()) == 40
    for name in unlabelled:
        assert nuclei_project.read_mask(name) is None
        assert not nuclei_project.mask_path(name).exists()
        assert (demo.source_dir("segmentation") / "masks" / name).exists()
    train, valid = nuclei_project.split()
    # A contiguous block of slices validates: near-identical neighbours stay on one side.
    assert valid == [f"nuclei_z{i:02d}.png" for i in range(48, 60) if i % 3 != 1]
    assert len(train) == 32
    mask = nuclei_project.read_mask("nuclei_z30.png")
    assert mask is not None and mask.shape == (256, 256) and set(mask.ravel()) <= {0, 1}


def test_fashion_demo_contents(fashion_project: Project) -> None:
    assert fashion_project.task is Task.MULTILABEL
    assert len(fashion_project.classes) == 10
    names = fashion_project.image_names()
    assert len(names) == 240
    # A third starts untagged (as the nuclei demo leaves slices unlabelled): work to do.
    statuses = fashion_project.statuses()
    untagged = sorted(n for n, s in statuses.items() if s == Status.UNLABELLED)
    assert untagged == demo.fashion_untagged(names) and len(untagged) == 80
    assert len(fashion_project.labelled_names()) == 160
    assert fashion_project.tags("fm_1_0000.png") == ["boot", "pullover"]
    assert "fm_1_0001.png" in untagged and fashion_project.tags("fm_1_0001.png") == []
    assert fashion_project.start_image == untagged[0]
    train, valid = fashion_project.split()
    assert len(valid) == 32 and len(train) == 128


def test_demo_is_reused_and_never_overwrites(tmp_path: Path) -> None:
    path = create_demo(tmp_path / "d")
    (path / "masks" / "nuclei_z00.png").write_bytes(b"user edit")  # reuse must not rebuild
    assert create_demo(tmp_path / "d") == path
    assert (path / "masks" / "nuclei_z00.png").read_bytes() == b"user edit"
    with pytest.raises(ProjectError, match="not the multilabel demo"):
        create_demo(tmp_path / "d", "multilabel")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "thesis.docx").write_text("precious")
    with pytest.raises(ProjectError, match="not empty"):
        create_demo(tmp_path / "other")
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


@pytest.mark.parametrize("task", ["segmentation", "multilabel"])
def test_a_demo_the_user_worked_in_is_still_the_demo(tmp_path: Path, task: str) -> None:
    from PIL import Image

    path = create_demo(tmp_path / "d", task)
    extra = tmp_path / "extra"
    extra.mkdir()
    Image.new("RGB", (64, 64), (20, 20, 20)).save(extra / "my_own.png")
    with Project.open(path) as project:  # the user imports an image and labels one
        project.add_images([extra / "my_own.png"])
        first = project.labelled_names()[0]
        if task == "multilabel":
            project.set_tags("my_own.png", [project.classes[0]])
        project.set_status(first, Status.REVIEWED)
    assert create_demo(tmp_path / "d", task) == path  # opened, not refused
    with Project.open(path, readonly=True) as project:
        assert "my_own.png" in project.image_names()
        assert project.status(first) == Status.REVIEWED


def test_default_location_is_the_user_data_folder(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert default_demo_dir("multilabel") == tmp_path / "xdg" / "workbench" / "demo-multilabel"


def test_failed_build_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(root: Path) -> None:
        Project.create(root, name="x", task="segmentation", classes=["a"]).close()
        raise ProjectError("simulated failure")

    monkeypatch.setattr(demo, "_build_nuclei", broken)
    with pytest.raises(ProjectError, match="simulated"):
        create_demo(tmp_path / "d")
    assert list(tmp_path.iterdir()) == []
