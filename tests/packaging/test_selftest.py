"""``workbench --self-test`` reports every check and never turns a failure into success."""

from __future__ import annotations

import io
import re

import pytest

from workbench import selftest
from workbench.cli import main


def _missing_module(ctx: object) -> str:
    import workbench_module_that_is_not_installed  # noqa: F401

    return "unreachable"


def test_failures_are_reported_and_exit_non_zero(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []

    def fine(ctx: object) -> str:
        calls.append("fine")
        return "all good"

    def wrong(ctx: object) -> str:
        raise selftest.SelfTestError("the loss did not go down: 1.000 -> 2.000")

    monkeypatch.setattr(selftest, "CHECKS", (("first", fine), ("import", _missing_module),
                                             ("result", wrong), ("last", fine)))
    out = io.StringIO()
    assert selftest.run(out) == 1
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("ok   first") and lines[3].startswith("ok   last")
    assert lines[1].startswith("FAIL import: ModuleNotFoundError")
    assert "workbench_module_that_is_not_installed" in lines[1]
    assert re.fullmatch(r"FAIL result: SelfTestError: the loss did not go down: "
                        r"1\.000 -> 2\.000 \(test_selftest\.py:\d+\)", lines[2]), lines[2]
    assert lines[4].startswith("self-test: 2 passed, 2 failed")
    assert calls == ["fine", "fine"]  # a failure does not stop the later checks


def test_later_checks_name_the_missing_earlier_result() -> None:
    ctx = selftest._Context(tmp=None)  # type: ignore[arg-type]
    with pytest.raises(selftest.SelfTestError, match="'app' failed"):
        selftest.check_window(ctx)


def test_cli_flag_runs_the_self_test(monkeypatch: pytest.MonkeyPatch,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(selftest, "CHECKS", (("only", lambda ctx: "done"),))
    assert main(["--self-test"]) == 0
    assert "self-test: 1 passed, 0 failed" in capsys.readouterr().out
