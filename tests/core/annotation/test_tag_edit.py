"""TagEdit: apply and revert are exact inverses, including "unlabelled" (no labels row)."""

from __future__ import annotations

from workbench.core.annotation import TagEdit
from workbench.core.project import Project, Status


def test_apply_revert_roundtrip_on_disk(tag_project):
    name = tag_project.image_names()[0]
    old = tag_project.tags(name)
    edit = TagEdit.replacing(tag_project, name, ["blue", "blue", "red"])
    assert edit.new == ("blue", "red") and edit.old == tuple(old)
    edit.apply(tag_project)
    with Project.open(tag_project.root, readonly=True) as again:
        assert again.tags(name) == ["blue", "red"]
    edit.revert(tag_project)
    with Project.open(tag_project.root, readonly=True) as again:
        assert again.tags(name) == old


def test_unlabelled_is_not_the_same_as_no_tags(tag_project):
    name = tag_project.image_names()[1]
    tag_project.clear_label(name)
    edit = TagEdit.replacing(tag_project, name, [])
    assert edit.old is None and edit.new == () and not edit.is_noop
    edit.apply(tag_project)
    assert tag_project.status(name) == Status.LABELLED  # "none of the tags" is a label
    edit.revert(tag_project)
    assert not tag_project.has_label(name)
    assert tag_project.status(name) == Status.UNLABELLED


def test_replaces_labels_only_when_chosen_tags_are_dropped(tag_project):
    name = tag_project.image_names()[0]
    tag_project.set_tags(name, ["red"])
    assert not TagEdit.replacing(tag_project, name, ["red", "green"]).replaces_labels
    assert TagEdit.replacing(tag_project, name, ["green"]).replaces_labels
    tag_project.clear_label(name)
    assert not TagEdit.replacing(tag_project, name, ["green"]).replaces_labels
