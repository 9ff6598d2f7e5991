"""Shared fixtures of the Python test suite (run by scripts/test-python.sh).

The suite needs the package installed in the running interpreter (``maturin develop`` or
``pip install .``) and the stand-in DSA binary ``target/debug/bcss-testserver`` (built by
scripts/test-python.sh; set ``BCSS_TESTSERVER`` to use another).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterator, List

import pytest

import bcss

ROOT = Path(__file__).resolve().parents[2]
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
KEY = "bcss-test-key"


def bcss_command() -> List[str]:
    """The installed console script next to this interpreter (else ``python -m bcss``)."""
    script = Path(sys.executable).with_name("bcss")
    return [str(script)] if script.exists() else [sys.executable, "-m", "bcss"]


def clean_env(**extra: str) -> Dict[str, str]:
    """The environment without the user's bcss settings, as the Rust tests run the binary."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BCSS_") and k != "COLUMNS"}
    env.update({"NO_COLOR": "1", "BCSS_RETRY_BASE_MS": "5"}, **extra)
    return env


@pytest.fixture(autouse=True)
def _no_user_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for k in list(os.environ):
        if k.startswith("BCSS_"):
            monkeypatch.delenv(k)
    monkeypatch.setenv("BCSS_RETRY_BASE_MS", "5")


@dataclass
class Server:
    """A running bcss-testserver (a stand-in DSA on 127.0.0.1)."""

    api_url: str
    folder_id: str
    roi_csv: Path
    rois: List[str]

    def download(self, out: Path, **kw: Any) -> dict:
        kw.setdefault("progress", False)
        return bcss.download(
            api_url=self.api_url, folder_id=self.folder_id, api_key=KEY, roi_bounds=self.roi_csv, out=out, **kw,
        )  # fmt: skip

    def argv(self, out: Path) -> List[str]:
        return ["download", "--api-url", self.api_url, "--folder-id", self.folder_id,
                "--api-key", KEY, "--roi-bounds", str(self.roi_csv), "--out", str(out)]  # fmt: skip


@contextlib.contextmanager
def start_server(tmp: Path, *args: str) -> Iterator[Server]:
    binary = Path(os.environ.get("BCSS_TESTSERVER", TARGET / "debug" / "bcss-testserver"))
    if not binary.exists():
        pytest.fail(f"{binary} is missing: run `cargo build -p bcss-testserver` (scripts/test-python.sh does)")
    csv = tmp / "rois.csv"
    proc = subprocess.Popen([str(binary), "--roi-csv", str(csv), *args], stdout=subprocess.PIPE, text=True)
    try:
        env: Dict[str, str] = {}
        assert proc.stdout is not None
        while "ROI_CSV" not in env:
            line = proc.stdout.readline()
            if not line:
                pytest.fail("bcss-testserver ended before printing its address")
            k, _, v = line.strip().partition("=")
            env[k] = v
        rois = [line.split(",")[0] for line in csv.read_text().splitlines()[1:] if line.strip()]
        yield Server(env["BCSS_API_URL"], env["BCSS_FOLDER_ID"], csv, rois)
    finally:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """Two slides with one small ROI each."""
    with start_server(tmp_path_factory.mktemp("server"), "--slides", "2", "--roi", "300x200") as s:
        yield s


@pytest.fixture(scope="session")
def dataset(server: Server, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A downloaded two-ROI dataset (do not modify: copy it)."""
    out = tmp_path_factory.mktemp("dataset") / "BCSS"
    server.download(out)
    return out


@pytest.fixture
def dataset_copy(dataset: Path, tmp_path: Path) -> Path:
    out = tmp_path / "BCSS"
    shutil.copytree(dataset, out)
    return out


@pytest.fixture(scope="session")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A synthetic dataset (bcss layout) of five ROIs of known pixels (see pngs.make_dataset)."""
    from pngs import ROIS, make_dataset

    root = tmp_path_factory.mktemp("synth") / "BCSS"
    make_dataset(root, ROIS)
    return root
