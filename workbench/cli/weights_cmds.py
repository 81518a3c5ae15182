"""``workbench weights download ARCH``: fetch torchvision's ImageNet encoder weights into the
torch hub cache, where training looks for them (torch is imported only when run)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from workbench.cli.train_cmds import ARCH_CHOICES


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("weights", help="pretrained ImageNet weights for the encoders",
                              description="Manage the ImageNet weights training starts from.")
    sub = p.add_subparsers(dest="weights_command", metavar="ACTION", required=True)
    d = sub.add_parser("download", help="download an encoder's ImageNet weights",
                       description="Download torchvision's ImageNet weights for ARCH into the "
                       "torch hub cache (checked against the SHA-256 in the file name).")
    d.add_argument("arch", choices=ARCH_CHOICES, metavar="ARCH",
                   help=f"encoder: {', '.join(ARCH_CHOICES)}")
    d.add_argument("--url", help="download from this URL instead of torchvision's (a mirror)")
    d.set_defaults(func=cmd_download)
    w = sub.add_parser("where", help="print where the weights go and which are there")
    w.set_defaults(func=cmd_where)


def cmd_download(args: argparse.Namespace) -> int:
    from workbench.training.weights import download_weights, find_cached

    existing = find_cached(args.arch)
    if existing is not None and args.url is None:
        print(f"{args.arch}: already downloaded: {existing}")
        return 0
    bar = _Bar(sys.stderr)
    path = download_weights(args.arch, url=args.url, progress=bar)
    bar.done()
    print(f"{args.arch}: saved {path}")
    return 0


def cmd_where(args: argparse.Namespace) -> int:
    from workbench.training.weights import find_cached, hub_checkpoint_dir

    print(f"weights folder: {hub_checkpoint_dir()}")
    for arch in ARCH_CHOICES:
        path = find_cached(arch)
        print(f"{arch:>10}: {path.name if path else 'not downloaded'}")
    return 0


class _Bar:
    """``[#####.....] 12.3/83.3 MB`` on one line on a terminal; a line per 10% otherwise."""

    def __init__(self, stream: Any) -> None:
        self.stream, self.tty, self._shown = stream, stream.isatty(), -1

    def __call__(self, done: int, total: int | None) -> None:
        mb = f"{done / 1e6:.1f}" + (f"/{total / 1e6:.1f}" if total else "") + " MB"
        if total:
            step = int(10 * done / total)
            bar = "#" * (3 * step)
            if self.tty:
                self.stream.write(f"\r[{bar:<30}] {mb}")
            elif step != self._shown:
                self.stream.write(f"{mb}\n")
            self._shown = step
        elif self.tty:
            self.stream.write(f"\r{mb}")
        self.stream.flush()

    def done(self) -> None:
        if self.tty:
            self.stream.write("\n")
