"""Image list: "Most uncertain first" lists unlabelled images by stored uncertainty, and N
(next unlabelled) follows that order when scores exist."""

from __future__ import annotations

from workbench.core.project import Status
from workbench.qt.browser import ImageBrowser


def test_most_uncertain_first_and_next_unlabelled_follow_the_scores(qtbot, seg_project):
    names = seg_project.image_names()
    unlabelled = names[2:6]
    for name in unlabelled:
        seg_project.set_status(name, Status.UNLABELLED)
    scores = {names[4]: 0.9, names[2]: 0.5, names[5]: 0.1}  # names[3] has no score
    seg_project.db.set_uncertainty("run-1", scores)
    browser = ImageBrowser.for_project(seg_project)
    qtbot.addWidget(browser)
    browser.set_uncertainty(seg_project.db.uncertainty())
    browser.set_filter("uncertain")
    assert browser.visible_names() == [names[4], names[2], names[5], names[3]]
    # N walks the scores, most uncertain first, skipping what got labelled meanwhile
    browser.select(names[0])
    assert browser.navigate("next_unlabelled") and browser.current_name() == names[4]
    seg_project.set_status(names[2], Status.LABELLED)
    browser.set_status(names[2], Status.LABELLED)
    assert browser.navigate("next_unlabelled") and browser.current_name() == names[5]
    # back to the project order
    browser.set_filter("unlabelled")
    assert [n for n in browser.visible_names() if n != names[2]] == [names[3], names[4],
                                                                      names[5]]
    browser.shutdown()


def test_the_order_n_follows_is_shown_under_the_filter(qtbot, seg_project):
    """After a refit ranks the images, N jumps in uncertainty order while the filter still
    says "All images": the label under the filter says which order N follows, and its link
    goes back to list order."""
    from PySide6.QtWidgets import QLabel

    names = seg_project.image_names()
    for name in (names[3], names[8]):
        seg_project.set_status(name, Status.UNLABELLED)
    browser = ImageBrowser.for_project(seg_project)
    qtbot.addWidget(browser)
    browser.resize(235, 500)
    browser.show()
    qtbot.waitExposed(browser)
    order = browser.findChild(QLabel, "nOrder")
    assert order is not None and order.isVisible()
    assert "list order" in order.text()
    filter_box = browser.filter_box
    assert 0 < order.geometry().top() - filter_box.geometry().bottom() < 20  # right under it
    browser.set_uncertainty({names[8]: 0.9, names[3]: 0.2})
    assert browser.filter_box.currentData() == "all"
    assert "most uncertain first" in order.text() and "use list order" in order.text()
    browser.select(names[0])
    assert browser.navigate("next_unlabelled") and browser.current_name() == names[8]
    order.linkActivated.emit("list")  # the link in the label
    assert browser.n_order == "list" and "list order" in order.text()
    browser.select(names[0])
    assert browser.navigate("next_unlabelled") and browser.current_name() == names[3]
    browser.shutdown()


def test_without_scores_next_unlabelled_keeps_list_order(qtbot, seg_project):
    names = seg_project.image_names()
    for name in (names[3], names[7]):
        seg_project.set_status(name, Status.UNLABELLED)
    browser = ImageBrowser.for_project(seg_project)
    qtbot.addWidget(browser)
    browser.set_uncertainty({})
    browser.select(names[0])
    assert browser.navigate("next_unlabelled") and browser.current_name() == names[3]
    browser.shutdown()


def test_rank_action_scores_unlabelled_images_on_the_training_thread(qtbot, seg_project):
    import torch

    from workbench.app import create_main_window
    from workbench.training.config import TrainConfig
    from workbench.training.session import train

    torch.set_num_threads(1)
    run = train(seg_project, TrainConfig(arch="resnet18", size=32, bs=4, epochs=1, lr=1e-3,
                                         pretrained=None, device="cpu", seed=0)).run_id
    names = seg_project.image_names()
    for name in names[:3]:
        seg_project.clear_label(name)
    window = create_main_window(seg_project)
    qtbot.addWidget(window)
    window.show()
    # a shown Mistakes view may first look for saved scores on the training thread
    qtbot.waitUntil(lambda: not window.training_panel.is_training(), timeout=30000)
    assert window.loop.rank_unlabelled()
    assert window.training_panel.is_training()
    qtbot.waitUntil(lambda: bool(window.browser._uncertainty), timeout=60000)
    ranked = list(seg_project.db.uncertainty())
    assert sorted(ranked) == sorted(names[:3]) and seg_project.db.uncertainty_run() == run
    assert window.browser._uncertainty == ranked
    window.browser.set_filter("uncertain")
    assert window.browser.visible_names()[:3] == ranked
