"""The commands as functions: summaries as Python data, exceptions per exit class, Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
from pathlib import Path

import pytest

import bcss

from conftest import Server, bcss_command, clean_env, start_server


def test_download_returns_the_json_summary(server: Server, tmp_path: Path) -> None:
    out = tmp_path / "BCSS"
    s = server.download(out)
    assert sorted(s["done"]) == sorted(server.rois) and s["skipped"] == [] and s["failed"] == []
    assert s["out"] == str(out)
    assert Path(s["log"]).parent == out / "logs" and Path(s["log"]).stat().st_size > 0
    assert len(list((out / "images").iterdir())) == len(server.rois)
    again = server.download(out)
    assert again["done"] == [] and sorted(again["skipped"]) == sorted(server.rois)
    # Each run has its own log file, with its own events.
    assert again["log"] != s["log"] and Path(again["log"]).stat().st_size > 0


def test_download_summary_equals_the_cli_json(server: Server, tmp_path: Path) -> None:
    import json

    r = subprocess.run([*bcss_command(), "--json", *server.argv(tmp_path / "cli")], capture_output=True, text=True, env=clean_env())
    assert r.returncode == 0, r.stderr
    cli = json.loads(r.stdout)
    fn = server.download(tmp_path / "fn")
    assert set(cli) == set(fn)
    assert cli["done"] == fn["done"] and cli["failed"] == fn["failed"]


def test_verify(dataset: Path) -> None:
    r = bcss.verify(dataset)
    assert r["rois_checked"] == 2 and r["with_manifest"] and r["problems"] == []


def test_verify_problems_raise_partial_failure_with_the_report(dataset_copy: Path) -> None:
    mask = sorted((dataset_copy / "masks").iterdir())[0]
    mask.write_bytes(mask.read_bytes()[:-10])
    with pytest.raises(bcss.PartialFailure) as e:
        bcss.verify(dataset_copy)
    assert e.value.exit_code == 1
    assert e.value.summary["problems"], e.value.summary
    assert "1 problem" in str(e.value)


def test_stats(dataset: Path, tmp_path: Path) -> None:
    s = bcss.stats(dataset, out=tmp_path / "stats", class_map="main5", progress=False)
    assert s["rois"] == 2 and s["class_map"]
    assert all((tmp_path / "stats" / f).exists() for f in s["files"])


def test_a_busy_folder_is_an_output_error_naming_the_holder(dataset: Path, tmp_path: Path) -> None:
    import fcntl
    import os

    out = tmp_path / "busy"
    out.mkdir()
    # Another process's lock, as a second run would meet it (flock is per open file).
    with open(out / ".bcss.lock", "w") as f:
        f.write('{"pid": 4242, "host": "elsewhere", "command": "bcss stats", "started": "2026-11-28T00:00:00Z"}')
        f.flush()
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        with pytest.raises(bcss.OutputError) as e:
            bcss.stats(dataset, out=out, progress=False)
        assert "4242" in str(e.value) and e.value.exit_code == 4, e.value
        assert e.value.hint and "--wait-lock" in e.value.hint
    assert os.path.exists(out / ".bcss.lock")
    s = bcss.stats(dataset, out=out, progress=False, wait_lock=True)
    assert s["rois"] == 2


def test_split_write_and_check(tmp_path: Path) -> None:
    s = bcss.split(out=tmp_path / "split.csv", scheme="official-val")
    assert s["scheme"] == "official-val" and sum(s["counts"].values()) == 151
    c = bcss.split(check=tmp_path / "split.csv")
    assert c["ok"] and c["leaks"] == []
    lines = (tmp_path / "split.csv").read_text().splitlines()
    # Put one ROI of a test site in train: its site is then in two parts.
    i = next(i for i, line in enumerate(lines) if line.endswith(",test"))
    lines[i] = lines[i].rsplit(",", 1)[0] + ",train"
    (tmp_path / "leaky.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(bcss.PartialFailure) as e:
        bcss.split(check=tmp_path / "leaky.csv")
    assert not e.value.summary["ok"] and e.value.summary["leaks"]


def cli_error(*args: str) -> str:
    r = subprocess.run([*bcss_command(), *args], capture_output=True, text=True, env=clean_env())
    return r.stderr.splitlines()[0].removeprefix("error: ")


def test_input_error_has_the_cli_message(tmp_path: Path) -> None:
    with pytest.raises(bcss.InputError) as e:
        bcss.stats(tmp_path / "missing", out=tmp_path / "o")
    assert str(e.value) == cli_error("stats", str(tmp_path / "missing"), "--out", str(tmp_path / "o"))
    with pytest.raises(bcss.InputError) as e:
        bcss.download(mpp=0.25, mag=20, out=tmp_path)
    assert "--mag" in str(e.value)
    with pytest.raises(bcss.InputError) as e:
        bcss.download(slides=["TCGA-XX-NOPE"], out=tmp_path)
    assert str(e.value) == cli_error("download", "--slides", "TCGA-XX-NOPE", "--out", str(tmp_path))


def test_server_error(tmp_path: Path) -> None:
    with pytest.raises(bcss.ServerError) as e:
        bcss.download(api_url="http://127.0.0.1:9/api/v1", folder_id="x", out=tmp_path / "o", retries=0, progress=False)
    assert e.value.exit_code == 3 and e.value.hint


def test_output_error(server: Server, tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a directory")
    with pytest.raises(bcss.OutputError) as e:
        server.download(tmp_path / "file" / "BCSS")
    assert e.value.exit_code == 4


def test_progress_callback(server: Server, tmp_path: Path) -> None:
    seen = []
    server.download(tmp_path / "BCSS", progress=lambda total, done, failed, unit: seen.append((total, done, failed, unit)))
    assert seen[-1] == (2, 2, 0, "ROI")


def test_tqdm_bar_when_importable(server: Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("tqdm")
    server.download(tmp_path / "BCSS", progress=True)
    assert "2/2" in capsys.readouterr().err


def test_ctrl_c_cancels_between_rois(tmp_path: Path) -> None:
    with start_server(tmp_path, "--slides", "8", "--roi", "300x200", "--latency-ms", "300") as server:
        out = tmp_path / "BCSS"
        timer = threading.Timer(1.5, lambda: os.kill(os.getpid(), signal.SIGINT))
        timer.start()
        with pytest.raises(KeyboardInterrupt):
            server.download(out, jobs=1)
        timer.join()
        names = [p.name for d in ("images", "masks") for p in (out / d).iterdir()]
        assert not [n for n in names if n.endswith(".part")], names
        done = len(list((out / "images").iterdir()))
        assert 0 < done < 8
        # What was written is complete: the rerun skips it and fetches the rest.
        again = server.download(out)
        assert len(again["skipped"]) == done and len(again["done"]) == 8 - done
        assert bcss.verify(out)["problems"] == []


def test_a_failed_roi_is_typed_in_the_summary(tmp_path: Path) -> None:
    """`failures` carries the step and the HTTP status as fields, beside `failed`'s sentences."""
    with start_server(tmp_path, "--slides", "2", "--roi", "300x200", "--faults", "bad-mask-code") as server:
        with pytest.raises(bcss.PartialFailure) as e:
            server.download(tmp_path / "BCSS")
    s = e.value.summary
    assert e.value.exit_code == 1 and s["done"] == []
    assert sorted(f["id"] for f in s["failures"]) == sorted(server.rois)
    for f in s["failures"]:
        assert f["step"] == "mask" and f["status"] is None, f
        assert "99" in f["reason"], f
    # The same failures as `failed`'s [id, reason] pairs.
    assert sorted([f["id"], f["reason"]] for f in s["failures"]) == sorted(s["failed"])
