"""The viewer's HTTP side, with plain requests: routes, ranges, traversal, damage, read-only."""

from __future__ import annotations

import http.client
import json
import shlex
import time
from pathlib import Path
from typing import Any

import pytest
from tests.viewer.helpers import EPISODES, LENGTH, serving, tree_snapshot, write_fake_run

from bricobot.cli.main import main
from bricobot.viewer.server import ViewerServer, parse_range, static_dir


def get(
    server: ViewerServer, path: str, headers: dict[str, str] | None = None, method: str = "GET"
) -> tuple[int, dict[str, str], bytes]:
    """One request with the path sent exactly as given (no client-side normalization)."""
    host, port = server.server_address[:2]
    conn = http.client.HTTPConnection(str(host), port, timeout=30)
    try:
        conn.request(method, path, headers=headers or {})
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


def get_json(server: ViewerServer, path: str) -> Any:
    status, _, body = get(server, path)
    assert status == 200, body
    return json.loads(body)


def wait_for_validation(server: ViewerServer, timeout_s: float = 300.0) -> Any:
    """Ask for validate's findings until the background run is done."""
    deadline = time.monotonic() + timeout_s
    while True:
        state = get_json(server, "/api/validation")
        if state["status"] not in ("idle", "running") or time.monotonic() > deadline:
            assert state["status"] == "done", state
            return state
        time.sleep(0.1)


TRAVERSALS = [
    "/../../etc/passwd",
    "/files/../../etc/passwd",
    "/files/../../../../../../etc/passwd",
    "/files/%2e%2e/%2e%2e/etc/passwd",
    "/files/%2E%2E/%2E%2E/etc/passwd",
    "/files/..%2f..%2f..%2fetc%2fpasswd",
    "/files/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "/files/%252e%252e/%252e%252e/etc/passwd",
    "/files/%252e%252e%252f%252e%252e%252fetc%252fpasswd",
    "/files//etc/passwd",
    "/files/%2fetc%2fpasswd",
    "/files/videos/..%5c..%5c..%5cetc%5cpasswd",
    "/files/./meta/../../outside/secret.mp4",
    "/files/../outside/secret.mp4",
    "/files/%2e%2e/outside/secret.mp4",
    "/files/link-out/secret.mp4",
    "/files/meta/info.json",
    "/static/../server.py",
    "/static/%2e%2e/server.py",
    "/static/..%2fserver.py",
]


def test_paths_outside_the_folder_are_404(dataset_copy: Path) -> None:
    """Traversal (plain, percent-encoded, doubly encoded), absolute paths, symlinks out, and files
    that are not media all get 404 and none of the bytes."""
    outside = dataset_copy.parent / "outside"
    outside.mkdir()
    (outside / "secret.mp4").write_bytes(b"SECRET-BYTES")
    (dataset_copy / "link-out").symlink_to(outside)
    with serving(dataset_copy) as server:
        for path in TRAVERSALS:
            status, _, body = get(server, path)
            assert status == 404, f"{path} answered {status}"
            assert b"SECRET" not in body and b"root:" not in body, path
        assert get(server, "/api/index")[0] == 200  # and the server is still there


def test_other_host_names_are_refused(video_dataset: Path) -> None:
    """A page elsewhere that rebinds its DNS name to 127.0.0.1 gets nothing from the viewer."""
    with serving(video_dataset) as server:
        assert get(server, "/api/index", {"Host": "evil.example:80"})[0] == 403
        assert (
            get(server, "/api/index", {"Host": f"localhost:{server.server_address[1]}"})[0] == 200
        )


def first_video(server: ViewerServer) -> tuple[str, Path]:
    video = get_json(server, "/api/episode/0")["videos"][0]
    return video["url"], Path(video["file"])


def test_videos_are_served_by_range(video_dataset: Path) -> None:
    with serving(video_dataset) as server:
        url, path = first_video(server)
        data = path.read_bytes()
        status, headers, body = get(server, url)
        assert (status, headers["Content-Type"], body) == (200, "video/mp4", data)
        assert headers["Accept-Ranges"] == "bytes"
        status, headers, body = get(server, url, {"Range": "bytes=10-29"})
        assert (status, body) == (206, data[10:30])
        assert headers["Content-Range"] == f"bytes 10-29/{len(data)}"
        assert get(server, url, {"Range": "bytes=-16"})[2] == data[-16:]
        assert get(server, url, {"Range": "bytes=100-"})[2] == data[100:]
        status, headers, _ = get(server, url, {"Range": f"bytes={len(data)}-"})
        assert (status, headers["Content-Range"]) == (416, f"bytes */{len(data)}")
        status, headers, body = get(server, url, method="HEAD")
        assert (status, int(headers["Content-Length"]), body) == (200, len(data), b"")


def test_parse_range() -> None:
    assert parse_range("bytes=0-0", 10) == (0, 0)
    assert parse_range("bytes=5-100", 10) == (5, 9)
    assert parse_range("bytes=-3", 10) == (7, 9)
    assert parse_range("bytes=10-", 10) is None
    assert parse_range("bytes=0-1,4-5", 10) is None  # multiple ranges: not offered
    assert parse_range("items=0-1", 10) is None


def test_index_and_episode(video_dataset: Path) -> None:
    """The index lists every episode from metadata; an episode has one series per joint."""
    with serving(video_dataset) as server:
        index = get_json(server, "/api/index")
        assert [e["index"] for e in index["episodes"]] == list(range(EPISODES))
        assert {e["length"] for e in index["episodes"]} == {LENGTH}
        assert index["tasks"] == ["reach"] and index["problems"] == []
        assert len(index["state_names"]) == 6 and index["state_names"] == index["action_names"]
        episode = get_json(server, "/api/episode/2")
        assert len(episode["t"]) == LENGTH
        assert [len(s) for s in episode["state"]] == [LENGTH] * 6
        assert [len(a) for a in episode["action"]] == [LENGTH] * 6
        assert [v["camera"] for v in episode["videos"]] == ["front", "wrist"]
        assert episode["videos"][0]["to_s"] - episode["videos"][0]["from_s"] == LENGTH / 30
        assert get(server, f"/api/episode/{EPISODES}")[0] == 404
        assert get(server, "/api/nothing")[0] == 404


def test_pages_and_assets_come_from_the_package(video_dataset: Path) -> None:
    """Every script and stylesheet a page loads is served from bricobot/viewer/static (no CDN)."""
    import re

    with serving(video_dataset) as server:
        status, headers, _ = get(server, "/")
        assert status == 200 and headers["Content-Type"].startswith("text/html")
        for name in ("dataset.html", "run.html"):
            html = (static_dir() / name).read_text()
            refs = re.findall(r'(?:src|href)="([^"]+)"', html)
            assert refs and all(r.startswith("/static/") or r == "data:," for r in refs), refs
            for ref in refs:
                if ref.startswith("/static/"):
                    assert get(server, ref)[0] == 200, ref
    assert "MIT" in (static_dir() / "uPlot.LICENSE").read_text()


def test_every_static_file_ships_in_the_wheel() -> None:
    """pyproject's package-data globs cover every asset, so a non-editable install has them."""
    import fnmatch

    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11

    pyproject = Path(__file__).resolve().parents[2] / "pyproject.toml"
    data = tomllib.loads(pyproject.read_text())["tool"]["setuptools"]["package-data"]
    globs = data["bricobot.viewer"]
    for path in static_dir().iterdir():
        name = f"static/{path.name}"
        assert any(fnmatch.fnmatch(name, g) for g in globs), f"{name} is not in package-data"


def test_validation_findings_by_episode(dataset_copy: Path) -> None:
    """validate's findings reach the page, grouped under the episode they concern."""
    video = next((dataset_copy / "videos" / "observation.images.wrist").rglob("file-001.mp4"))
    video.unlink()
    with serving(dataset_copy) as server:
        state = wait_for_validation(server)
        assert any("observation.images.wrist" in e for e in state["episodes"]["1"]["errors"])


def test_missing_video_names_the_file_and_the_fix(dataset_copy: Path) -> None:
    video = next((dataset_copy / "videos" / "observation.images.front").rglob("file-002.mp4"))
    video.unlink()
    with serving(dataset_copy) as server:
        assert len(get_json(server, "/api/index")["episodes"]) == EPISODES  # no video opened
        episode = get_json(server, "/api/episode/2")
        [problem] = episode["problems"]
        assert problem["file"] == str(video.resolve())
        assert f"bricobot dataset repair root={dataset_copy.resolve()}" in problem["fix"]
        assert f"bricobot dataset validate root={dataset_copy.resolve()}" in problem["fix"]
        assert episode["videos"][0]["url"] is None and episode["videos"][1]["url"]
        assert len(episode["t"]) == LENGTH  # the plots still work


def test_damaged_files_are_reported_and_the_server_keeps_running(dataset_copy: Path) -> None:
    data = next((dataset_copy / "data").rglob("file-001.parquet"))
    data.write_bytes(b"not a parquet file")
    with serving(dataset_copy) as server:
        [problem] = get_json(server, "/api/episode/1")["problems"]
        assert problem["file"] == str(data.resolve()) and "damaged" in problem["message"]
        assert any("repair" in cmd for cmd in problem["fix"])
        assert get_json(server, "/api/episode/0")["problems"] == []
        (dataset_copy / "meta" / "info.json").write_text("{broken")
        [problem] = get_json(server, "/api/index")["problems"]
        assert "info.json" in problem["message"] and "info.json" in problem["file"]
        assert get(server, "/")[0] == 200


def test_the_server_never_writes_into_the_dataset(video_dataset: Path) -> None:
    before = tree_snapshot(video_dataset)
    with serving(video_dataset) as server:
        get_json(server, "/api/index")
        for i in range(EPISODES):
            for video in get_json(server, f"/api/episode/{i}")["videos"]:
                get(server, video["url"], {"Range": "bytes=0-"})
        get_json(server, "/api/delete-command?episodes=1")
        wait_for_validation(server)
        for method in ("POST", "PUT", "DELETE"):
            assert get(server, "/api/index", method=method)[0] == 501
    assert tree_snapshot(video_dataset) == before


def test_delete_command_is_a_working_edit_command(tmp_path: Path) -> None:
    """The exported command, run as is, writes a copy without the marked episodes."""
    from tests.fakes.policy_dataset import write_dataset

    from bricobot.datasets.metadata import DatasetMeta

    root = write_dataset(tmp_path / "small", episodes=4, length=8)
    with serving(root) as server:
        command = get_json(server, "/api/delete-command?episodes=3,1,x")["command"]
    args = shlex.split(command)
    assert args[:3] == ["bricobot", "dataset", "edit"] and "episodes=[1,3]" in args
    assert main(args[1:]) == 0
    out = Path(next(a for a in args if a.startswith("out=")).removeprefix("out="))
    assert DatasetMeta.load(out).total_episodes == 2


def test_run_api_reads_curves_eval_and_videos(tmp_path: Path) -> None:
    run = write_fake_run(tmp_path / "run", steps=500)
    with (run / "metrics.jsonl").open("a") as f:
        f.write('{"step": 520, "loss": NaN}\n{"step": 540, "lo')  # a NaN, a line being written
    with serving(run) as server:
        data = get_json(server, "/api/run")
        assert data["status"] == "running" and data["start"]["policy"] == "act"
        assert data["train"]["step"][-1] == 520 and data["train"]["loss"][-1] is None
        assert {"loss", "l1_loss", "kld_loss", "lr/main", "data_wait_share"} <= set(data["train"])
        assert data["val"]["step"] == [100, 200, 300, 400, 500]
        assert data["eval"]["step"] == [200, 400] and data["eval"]["success_rate"] == [0.2, 0.4]
        assert [v["step"] for v in data["videos"]] == [500]
        assert get(server, data["videos"][0]["url"])[0] == 200
        with (run / "metrics.jsonl").open("a") as f:
            f.write('ss": 0.1}\n{"event": "end", "step": 540}\n')
        data = get_json(server, "/api/run")
        assert data["train"]["step"][-1] == 540 and data["status"] == "finished"


@pytest.mark.parametrize("make", ["empty", "file", "missing"])
def test_anything_else_is_refused_in_one_line(
    make: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "thing"
    if make == "empty":
        path.mkdir()
    elif make == "file":
        path.write_text("hello")
    assert main(["view", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(path) in err
    if make == "empty":
        assert "dataset" in err and "training run" in err


def test_command_line_forms() -> None:
    """``bricobot view <path> --open`` maps to Hydra's ``path=…``/``open=true``, any characters."""
    from bricobot.cli.app import compose_config
    from bricobot.cli.view import ViewCommandConfig, hydra_args

    odd = "/data/my set's [1]=x"
    args = hydra_args([odd, "--open", "port=8080"])
    cfg = compose_config("view", ViewCommandConfig, args)
    assert (cfg.path, cfg.open, cfg.port, cfg.host) == (odd, True, 8080, "127.0.0.1")


def test_a_taken_port_is_one_clear_line(
    video_dataset: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["view", str(video_dataset), f"port={port}"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and f"127.0.0.1:{port}" in err and "port=0" in err
