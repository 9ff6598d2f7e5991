"""The ``bcss`` command from the package is the Rust binary's CLI: same help, exit codes, Ctrl-C."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import bcss

from conftest import ROOT, bcss_command, clean_env, start_server

SNAPSHOTS = ROOT / "crates" / "bcss-cli" / "tests" / "it" / "snapshots"


def snapshot(name: str) -> str:
    """An insta snapshot without its YAML header."""
    text = (SNAPSHOTS / f"it__help__{name}.snap").read_text()
    assert text.startswith("---\n")
    return text.split("\n---\n", 1)[1]


COMMANDS = ["", "download", "verify", "rois", "masks", "classes", "split", "stats", "tile", "overlay", "eval", "report"]
if bcss.HAS_OPENSLIDE:
    COMMANDS += ["extract", "slides", "slides manifest"]


@pytest.mark.parametrize("command", COMMANDS)
def test_help_equals_the_binary_snapshot(command: str) -> None:
    r = subprocess.run([*bcss_command(), *command.split(), "--help"], capture_output=True, text=True, env=clean_env())
    assert r.returncode == 0, r.stderr
    name = "bcss_" + command.replace(" ", "_") if command else "bcss"
    # insta trims the trailing newline of a snapshot.
    assert r.stdout.rstrip("\n") == snapshot(name).rstrip("\n")


def test_python_dash_m() -> None:
    r = subprocess.run([sys.executable, "-m", "bcss", "split", "--help"], capture_output=True, text=True, env=clean_env())
    assert r.returncode == 0
    assert r.stdout.rstrip("\n") == snapshot("bcss_split").rstrip("\n")


def test_bad_flag_exits_2_with_usage() -> None:
    r = subprocess.run([*bcss_command(), "download", "--no-such-flag"], capture_output=True, text=True, env=clean_env())
    assert r.returncode == 2
    assert "unexpected argument '--no-such-flag'" in r.stderr
    r = subprocess.run([*bcss_command(), "stats", "/nonexistent", "--out", "/tmp/x"], capture_output=True, text=True, env=clean_env())
    assert r.returncode == 2
    assert r.stderr.startswith("error: ")


def test_json_on_stdout(tmp_path: Path) -> None:
    out = tmp_path / "split.json"
    r = subprocess.run([*bcss_command(), "--json", "split", "--out", str(out)], capture_output=True, text=True, env=clean_env())
    assert r.returncode == 0, r.stderr
    assert '"scheme": "official"' in r.stdout
    assert out.exists()


def test_ctrl_c_stops_the_command_like_the_binary(tmp_path: Path) -> None:
    """SIGINT ends the console script at once, by the signal, as it ends the Rust binary."""
    with start_server(tmp_path, "--slides", "6", "--roi", "300x200", "--latency-ms", "400") as server:
        interrupted_then_resumed(server, tmp_path / "BCSS")


def interrupted_then_resumed(server, out: Path) -> None:  # type: ignore[no-untyped-def]
    proc = subprocess.Popen([*bcss_command(), "--no-progress", *server.argv(out), "--jobs", "1"],
                            env=clean_env(), stderr=subprocess.PIPE)  # fmt: skip
    time.sleep(1.5)
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail("bcss did not stop on SIGINT")
    assert proc.returncode == -signal.SIGINT
    images = sorted(p.name for p in (out / "images").glob("*") if not p.name.endswith(".part"))
    assert len(images) < 6
    # No partial file under a final name: a rerun completes and verifies.
    summary = server.download(out)
    assert len(summary["done"]) + len(summary["skipped"]) == 6
    assert bcss.verify(out)["problems"] == []
