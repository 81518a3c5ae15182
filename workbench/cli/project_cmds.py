"""Project commands: ``new``, ``import``, ``info``, ``export``, ``demo``, ``repair`` (no Qt, no
torch)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from workbench.core import exporters, importers
from workbench.core.errors import ProjectError
from workbench.core.labels import read_codes
from workbench.core.manifest import SplitRule, Task
from workbench.core.project import Project
from workbench.core.runs import require_model

DATA_FORMATS = ("masks", "palette", "coco", "csv")
MODEL_FORMATS = ("onnx", "torchscript")


def register(subparsers: Any) -> None:
    _register_new(subparsers)
    _register_import(subparsers)
    _register_info(subparsers)
    _register_export(subparsers)
    _register_demo(subparsers)
    _register_repair(subparsers)


def _register_new(subparsers: Any) -> None:
    p = subparsers.add_parser("new", help="create an empty project",
                              description="Create a new project folder.")
    p.add_argument("project", type=Path, help="folder to create (may exist, must not be a project)")
    p.add_argument("--task", required=True, choices=[t.value for t in Task])
    src = p.add_mutually_exclusive_group()
    src.add_argument("--classes", help="comma-separated class names or tags, e.g. bg,cell")
    src.add_argument("--codes", type=Path, help="codes.txt with one class name per line")
    p.add_argument("--name", help="display name (default: the folder name)")
    p.add_argument("--valid-pct", type=float, default=0.2, help="random validation share")
    p.add_argument("--seed", type=int, default=42, help="seed of the random split")
    p.add_argument("--database", metavar="URL",
                   help="make a team project whose labels, claims and history live in this "
                        "PostgreSQL database: postgresql://HOST:PORT/DBNAME (the database must "
                        "exist; user and password come from PGUSER/PGPASSWORD or ~/.pgpass)")
    p.set_defaults(func=cmd_new)


def cmd_new(args: argparse.Namespace) -> int:
    if args.codes is not None:
        classes = read_codes(args.codes)
    else:
        classes = [c.strip() for c in (args.classes or "").split(",") if c.strip()]
    if not classes and args.task == Task.SEGMENTATION.value:
        raise ProjectError("A segmentation project needs classes: use --classes a,b or --codes.")
    split = SplitRule(kind="random", valid_pct=args.valid_pct, seed=args.seed)
    with Project.create(args.project, name=args.name or args.project.name, task=args.task,
                        classes=classes, split=split, database=args.database) as project:
        kind = "team project" if project.is_team else "project"
        print(f"Created {project.task.value} {kind} {project.root} with "
              f"{len(project.classes)} classes: {', '.join(project.classes) or '(none yet)'}")
        if args.database:
            print(f"  its labels, claims and history live in {args.database}; add annotators "
                  f"with `workbench team {args.project} add-user NAME`")
    return 0


def _register_import(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "import", help="import images, masks or labels.csv into a project",
        description="Import a folder of images, optionally with index masks (CamVid-style with "
                    "--mask-pattern and --codes) or a Planet-style labels.csv. Files that cannot "
                    "be imported are listed with the reason.")
    p.add_argument("project", type=Path)
    p.add_argument("--images", type=Path, required=True, help="folder of images")
    labels = p.add_mutually_exclusive_group()
    labels.add_argument("--masks", type=Path, help="folder of 8-bit index masks")
    labels.add_argument("--csv", type=Path, help="labels.csv (image_name,tags)")
    p.add_argument("--mask-pattern", default="{stem}.png",
                   help="mask file name for an image, e.g. '{stem}_P.png' (default: %(default)s)")
    p.add_argument("--codes", type=Path, help="codes.txt to check against the project's classes")
    p.add_argument("--add-tags", action="store_true",
                   help="add tags found in --csv to the project's vocabulary")
    p.set_defaults(func=cmd_import)


def _check_import_options(args: argparse.Namespace) -> None:
    """Options that only apply to another import source would be silently ignored: refuse."""
    if args.masks is None:
        unused = [opt for opt, given in (("--codes", args.codes is not None),
                                         ("--mask-pattern", args.mask_pattern != "{stem}.png"))
                  if given]
        if unused:
            verb = "apply" if len(unused) > 1 else "applies"
            raise ProjectError(f"{' and '.join(unused)} only {verb} to a mask import: "
                               "add --masks DIR.")
    if args.add_tags and args.csv is None:
        raise ProjectError("--add-tags only applies to a labels.csv import: add --csv FILE.")


def cmd_import(args: argparse.Namespace) -> int:
    _check_import_options(args)
    with Project.open(args.project) as project:
        if args.masks is not None:
            report = importers.import_masks(project, args.images, args.masks,
                                            pattern=args.mask_pattern, codes=args.codes)
        elif args.csv is not None:
            report = importers.import_csv(project, args.images, args.csv, add_tags=args.add_tags)
        else:
            report = importers.import_images(project, args.images)
    print(report.summary())
    # Partial imports succeed (the report says what was skipped); nothing imported is a failure.
    if report.error or (report.skipped and not report.images):
        return 1
    return 0


def _register_info(subparsers: Any) -> None:
    p = subparsers.add_parser("info", help="show counts per status and class, split sizes",
                              description="Summarise a project (opens it read-only).")
    p.add_argument("project", type=Path)
    p.add_argument("--json", action="store_true", help="print machine-readable JSON")
    p.set_defaults(func=cmd_info)


def cmd_info(args: argparse.Namespace) -> int:
    with Project.open(args.project, readonly=True) as project:
        info = project.info()
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    st = info["status"]
    print(f"{info['name']} ({info['task']}) at {info['root']}")
    print(f"  images: {info['images']}  unlabelled: {st['unlabelled']}  "
          f"labelled: {st['labelled']}  reviewed: {st['reviewed']}")
    kind = "images containing" if info["task"] == Task.SEGMENTATION.value else "images tagged"
    print(f"  {kind}:")
    for name, count in info["per_class"].items():
        print(f"    {name}: {count}")
    split = info["split"]
    print(f"  split ({split['rule']['kind']}): train {split['train']}, valid {split['valid']}")
    print(f"  training runs: {info['runs']}")
    for problem in info.get("unreadable_masks", []):
        print(f"  unreadable mask: {problem}")
    for name in info.get("unusable_names", []):
        print(f"  ignored image (file name is not valid UTF-8; rename it): {name}")
    return 0


def _register_export(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "export",
        help="export labels (masks, palette, coco, csv) or a trained model (onnx, torchscript)",
        description="Export index masks, colour-palette masks, COCO-style instances (each "
                    "connected region of a class one object, instances.json) or labels.csv; "
                    "or a trained model of run --run as ONNX / TorchScript.")
    p.add_argument("project", type=Path)
    p.add_argument("--format", required=True, choices=DATA_FORMATS + MODEL_FORMATS)
    p.add_argument("--out", type=Path, required=True,
                   help="output folder (or file for csv, coco and models)")
    p.add_argument("--run", help="training run id (model formats; default: the current model)")
    p.set_defaults(func=cmd_export)


def cmd_export(args: argparse.Namespace) -> int:
    if args.format in MODEL_FORMATS:
        with Project.open(args.project, readonly=True) as project:
            run = require_model(project, args.run)
            from workbench.training.export import export_model  # lazy: pulls in torch

            result = export_model(project, run.run_id, args.format, args.out)
        print(f"Exported run {run.run_id} as {args.format} to {result} (how to use it: "
              f"{result}.json)")
        return 0
    with Project.open(args.project, readonly=True) as project:
        if args.format == "masks":
            written = exporters.export_masks(project, args.out)
        elif args.format == "palette":
            written = exporters.export_palette(project, args.out)
        elif args.format == "coco":
            written = [exporters.export_coco(project, args.out)]
        else:
            written = [exporters.export_csv(project, args.out)]
    print(f"Exported {len(written)} file(s) to {args.out}")
    return 0


def _register_repair(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "repair", help="rebuild a damaged workbench.db from the project's files",
        description="Check the project database; if it is damaged, move it aside (renamed, "
                    "never deleted), build a new one from the label files, copy every row "
                    "that can still be read (reviewed marks, runs, queue, uncertainty) and "
                    "list what could not be recovered.")
    p.add_argument("project", type=Path)
    p.set_defaults(func=cmd_repair)


def cmd_repair(args: argparse.Namespace) -> int:
    from workbench.core.repair import repair_project

    report = repair_project(args.project)
    print(report.summary())
    return 0


def _register_demo(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "demo", help="create (or reuse) the demo project and open it",
        description="Create the bundled demo project in your data folder (or --dir) and open it.")
    p.add_argument("--task", choices=[t.value for t in Task], default=Task.SEGMENTATION.value,
                   help="segmentation: nuclei (default); multilabel: fashion tags")
    p.add_argument("--dir", type=Path, help="where to create it (default: user data folder)")
    p.add_argument("--no-gui", action="store_true", help="only create it and print its path")
    p.set_defaults(func=cmd_demo)


def cmd_demo(args: argparse.Namespace) -> int:
    from workbench.core.demo import create_demo

    path = create_demo(args.dir, args.task)
    print(path)
    sys.stdout.flush()
    if args.no_gui:
        return 0
    from workbench.app import run_app  # lazy: Qt only when a window opens

    return int(run_app(path) or 0)
