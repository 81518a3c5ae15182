import numpy as np
import torch
from PIL import Image
from torchvision import tv_tensors

from workbench.training.data import data_spec
from workbench.training.transforms import (
    IMAGENET_MEAN,
    RandomRot90,
    denormalize_batch,
    normalize_batch,
    train_transforms,
)
from workbench.training.visualize import (
    batch_cells,
    class_shares,
    overlay_mask,
    prediction_cells,
    show_batch,
    tag_text,
)


def test_segmentation_batches_are_normalised_and_masks_keep_their_values(seg_project) -> None:
    spec = data_spec(seg_project, seed=0)
    data = spec.build(40, 4, torch.device("cpu"))
    assert data.c == 2 and data.classes == ["background", "shape"]
    assert len(data.train_names) + len(data.valid_names) == 12
    assert not set(data.train_names) & set(data.valid_names)
    x, y = data.one_batch()
    assert x.shape == (4, 3, 40, 40) and x.dtype == torch.float32
    assert y.shape == (4, 40, 40) and y.dtype == torch.int64
    assert set(torch.unique(y).tolist()) <= {0, 1, 255}  # nearest: no blended class values
    assert -2.5 < x.min() < 0 < x.max() < 2.7  # ImageNet-normalised range
    _xv, yv = next(iter(data.valid_dl))
    assert set(torch.unique(yv).tolist()) <= {0, 1}  # no augmentation fill in validation


def test_multilabel_targets_are_multi_hot(tag_project) -> None:
    spec = data_spec(tag_project)
    data = spec.build(32, 4, torch.device("cpu"))
    _x, y = data.one_batch()
    assert y.shape == (4, 3) and y.dtype == torch.float32
    for name in data.train_names:
        vec = spec.tag_vectors[name]
        assert [c for c, v in zip(spec.classes, vec) if v] == sorted(
            tag_project.tags(name), key=spec.classes.index)


def test_grey_and_rgba_images_load_as_rgb(seg_project, tmp_path) -> None:
    grey = tmp_path / "grey.png"
    Image.fromarray(np.full((48, 48), 100, np.uint8)).save(grey)
    rgba = tmp_path / "rgba.png"
    Image.fromarray(np.full((48, 48, 4), 200, np.uint8)).save(rgba)
    seg_project.add_images([grey, rgba])
    for name in ("grey.png", "rgba.png"):
        seg_project.write_mask(name, np.zeros((48, 48), np.uint8))
    spec = data_spec(seg_project)
    train_ds, valid_ds = spec.datasets(32)
    # Each image is checked in whichever split it landed (train and valid transforms differ).
    where = {n: (train_ds, i) for i, n in enumerate(spec.train_names)}
    where.update({n: (valid_ds, i) for i, n in enumerate(spec.valid_names)})
    for name in ("grey.png", "rgba.png"):
        ds, index = where[name]
        x, y = ds[index]
        assert x.shape == (3, 32, 32), name
        assert y.shape == (32, 32), name


def test_augmentations_move_image_and_mask_together() -> None:
    torch.manual_seed(0)
    img = torch.zeros(3, 32, 32, dtype=torch.uint8)
    img[:, 4:12, 20:30] = 255
    mask = (img[0] > 0).to(torch.uint8)
    tfm = train_transforms(32, top_down=True, max_lighting=0)
    for _ in range(10):
        x, m = tfm(tv_tensors.Image(img), tv_tensors.Mask(mask))
        fg = m == 1
        assert x[0][fg].float().mean() > 150  # mask foreground sits on the bright patch
        assert set(torch.unique(m).tolist()) <= {0, 1, 255}


def test_rot90_rotates_all_inputs_alike() -> None:
    torch.manual_seed(3)
    img = tv_tensors.Image(torch.arange(16, dtype=torch.uint8).view(1, 4, 4))
    mask = tv_tensors.Mask(torch.arange(16, dtype=torch.uint8).view(4, 4))
    ri, rm = RandomRot90()(img, mask)
    assert torch.equal(ri[0], rm) and isinstance(rm, tv_tensors.Mask)


def test_normalise_round_trip() -> None:
    x = torch.randint(0, 256, (2, 3, 5, 5), dtype=torch.uint8)
    n = normalize_batch(x)
    expected = ((x[:, 0].float() / 255) - IMAGENET_MEAN[0]) / 0.229
    assert torch.allclose(n[:, 0], expected, atol=1e-5)
    assert torch.equal(denormalize_batch(n), x)


def test_show_batch_grid_and_png(seg_project, tag_project, tmp_path) -> None:
    data = data_spec(seg_project).build(32, 4, torch.device("cpu"))
    out = tmp_path / "batch.png"
    grid = show_batch(data, n=6, ncols=3, path=out)
    assert grid.shape == (2 * 36 + 4, 3 * 36 + 4, 3)
    assert Image.open(out).size == (grid.shape[1], grid.shape[0])
    pink = np.asarray(data.colors[1])
    assert (np.abs(grid.astype(int) - pink).sum(-1) < 200).any()  # the overlay is visible
    tags = data_spec(tag_project).build(32, 4, torch.device("cpu"))
    grid = show_batch(tags, n=4, ncols=4)
    assert grid.shape == (32 + 14 + 8, 4 * 36 + 4, 3)
    caption = grid[36:36 + 14, 4:36]
    assert (caption < 100).any()  # text drawn in black on white


def test_overlay_leaves_unlabelled_pixels() -> None:
    img = np.full((2, 2, 3), 100, np.uint8)
    mask = np.array([[1, 255], [0, 255]], np.uint8)
    out = overlay_mask(img, mask, [(0, 0, 0), (255, 0, 0)], alpha=0.5)
    assert (out[0, 1] == 100).all() and (out[1, 1] == 100).all()
    assert tuple(out[0, 0]) == (178, 50, 50)


def test_overlay_can_leave_background_clear() -> None:
    img = np.full((1, 3, 3), 100, np.uint8)
    mask = np.array([[0, 1, 255]], np.uint8)
    out = overlay_mask(img, mask, [(0, 0, 0), (255, 0, 0)], alpha=0.5, clear_background=True)
    assert (out[0, 0] == 100).all() and (out[0, 2] == 100).all()
    assert tuple(out[0, 1]) == (178, 50, 50)
    assert tuple(overlay_mask(img, mask, [(0, 0, 0), (255, 0, 0)], alpha=0.5)[0, 0]) == (50,) * 3


def test_captions_name_tags_and_class_shares() -> None:
    assert tag_text([0.9, 0.5, 0.1], ["a", "b", "c"], 0.5) == "a b"  # >=: 0.5 is a tag
    assert tag_text([0.9, 0.5, 0.1], ["a", "b", "c"], 0.1) == "a b c"
    assert tag_text([0.0, 0.2], ["a", "b"], 0.5) == "(no tags)"
    mask = np.array([[0, 1], [1, 255]], np.uint8)
    assert class_shares(mask, ["background", "shape"]) == "shape 50%"
    assert class_shares(np.zeros((2, 2), np.uint8), ["bg", "shape"]) == "bg only"


def test_batch_cells_show_the_loader_batch(seg_project, tag_project) -> None:
    data = data_spec(seg_project).build(32, 4, torch.device("cpu"))
    cells = batch_cells(data, limit=3)
    assert len(cells) == 3
    for img, caption in cells:
        assert img.shape == (32, 32, 3) and img.dtype == np.uint8
        assert caption.endswith("only") or "shape" in caption
    tags = data_spec(tag_project).build(32, 4, torch.device("cpu"))
    assert all(caption for _img, caption in batch_cells(tags))
    assert len(batch_cells(tags)) == 4  # a batch holds bs samples, fewer than the limit


def test_prediction_cells_pair_targets_with_predictions() -> None:
    img = np.full((4, 4, 3), 100, np.uint8)
    pred = np.ones((4, 4), np.uint8)
    colors = [(0, 0, 0), (255, 0, 0)]
    cells = prediction_cells([img, img], [None, pred], [pred, pred], ["a.png", "b.png"],
                             "segmentation", ["background", "shape"], colors)
    assert [c for _i, c in cells] == ["a.png\ntarget", "a.png\nprediction",
                                      "b.png\ntarget", "b.png\nprediction"]
    assert (cells[0][0] == 100).all()  # missing target shows as background, left clear
    assert tuple(cells[1][0][0, 0]) == (170, 55, 55)  # 0.45 of the class colour
    tagged = prediction_cells([img], [["b"]], [np.array([0.7, 0.2])], ["c.jpg"], "multilabel",
                              ["a", "b"], colors, 0.5)
    assert len(tagged) == 1 and tagged[0][1] == "c.jpg\ntarget: b\npred: a"
    default = prediction_cells([img], [["b"]], [np.array([0.7, 0.2])], ["c.jpg"], "multilabel",
                               ["a", "b"], colors)  # a run that chose no threshold: 0.2
    assert default[0][1] == "c.jpg\ntarget: b\npred: a b"
