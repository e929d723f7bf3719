"""``bricobot view`` in a real headless Chromium: the pages a user sees actually work.

Screenshots go to the test's tmp dir and are copied to ``artifacts_dir()``
(``$BRICOBOT_TEST_ARTIFACTS``, default ``<tmp>/bricobot-test-artifacts/viewer``).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from tests.fakes.policy_dataset import JOINTS
from tests.viewer.helpers import (
    CAMERAS,
    EPISODES,
    LENGTH,
    artifacts_dir,
    bricobot_view,
    frame_color,
    train_record,
    tree_snapshot,
    write_coded_dataset,
    write_fake_run,
)

VIDEO_TIMES = "[...document.querySelectorAll('#videos video')].map(v => v.currentTime)"


def save_screenshot(page: Any, tmp_path: Path, name: str) -> Path:
    path = tmp_path / name
    page.screenshot(path=str(path), full_page=True)
    shutil.copy(path, artifacts_dir() / name)
    return path


def open_page(browser: Any, url: str) -> Any:
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(url)
    page.errors = errors
    return page


def wait_until_videos_ready(page: Any) -> None:
    page.wait_for_function(
        "[...document.querySelectorAll('#videos video')].every(v => v.readyState >= 2)",
        timeout=60_000,
    )


def test_dataset_page(browser: Any, video_dataset: Path, tmp_path: Path) -> None:
    before = tree_snapshot(video_dataset)
    with bricobot_view(video_dataset) as url:
        page = open_page(browser, url)
        page.wait_for_function("window.bricobotViewer.jointCharts.length > 0", timeout=60_000)
        assert page.locator("#episode-list tbody tr").count() == EPISODES
        assert page.inner_text("#episode-count") == f"{EPISODES} episodes"
        check_joint_plots(page)
        wait_until_videos_ready(page)
        assert page.locator("#videos video").count() == len(CAMERAS)
        check_playback(page)
        check_seek_by_plot(page)
        check_keyboard(page, video_dataset)
        page.wait_for_function(
            "!document.querySelector('#validation-status').textContent.includes('validating')",
            timeout=120_000,
        )
        save_screenshot(page, tmp_path, "viewer_dataset.png")
        assert page.errors == []
    assert tree_snapshot(video_dataset) == before  # browsing wrote nothing into the dataset


def check_joint_plots(page: Any) -> None:
    """One plot per joint, each with its observation.state and action traces."""
    plots = page.evaluate(
        "window.bricobotViewer.jointCharts.map(u => [u.root.parentElement.dataset.joint,"
        " u.series.slice(1).map(s => s.label), u.data[1].length])"
    )
    assert [p[0] for p in plots] == [f"{j}.pos" for j in JOINTS]
    assert all(p[1] == ["observation.state", "action"] for p in plots)
    assert all(p[2] == LENGTH for p in plots)


def check_playback(page: Any) -> None:
    """Space plays every camera's video, together; space again pauses."""
    start = page.evaluate(VIDEO_TIMES)
    page.keyboard.press(" ")
    page.wait_for_function(f"{VIDEO_TIMES}.every(t => t > 0.5)", timeout=30_000)
    page.keyboard.press(" ")
    times = page.evaluate(VIDEO_TIMES)
    assert all(t > s for t, s in zip(times, start, strict=True)), (start, times)
    assert max(times) - min(times) < 0.2, f"cameras out of sync: {times}"
    assert page.evaluate("[...document.querySelectorAll('#videos video')].every(v => v.paused)")


def check_seek_by_plot(page: Any) -> None:
    """A click on a joint plot moves every video to the time under the click."""
    box = page.locator(".joint-plot .u-over").first.bounding_box()
    x = box["width"] * 0.25
    wanted = page.evaluate(f"window.bricobotViewer.jointCharts[0].posToVal({x}, 'x')")
    page.mouse.click(box["x"] + x, box["y"] + box["height"] / 2)
    page.wait_for_function(
        f"{VIDEO_TIMES}.every(t => Math.abs(t - {wanted}) < 1.5 / 30)", timeout=10_000
    )
    cursor = page.evaluate(
        "parseFloat(document.querySelector('.joint-plot .time-cursor').style.left)"
    )
    assert abs(cursor - x) < 3


def check_keyboard(page: Any, root: Path) -> None:
    """Frame step, next/previous episode, and a bad mark exported as the edit command."""
    frame = page.evaluate("window.bricobotViewer.player.frame")
    page.keyboard.press("ArrowRight")
    assert page.evaluate("window.bricobotViewer.player.frame") == frame + 1
    page.keyboard.press("j")
    page.wait_for_function("window.bricobotViewer.current === 1")
    page.keyboard.press("k")
    page.wait_for_function("window.bricobotViewer.current === 0")
    page.keyboard.press("j")
    page.wait_for_function("window.bricobotViewer.current === 1")
    wait_until_videos_ready(page)
    page.keyboard.press("b")
    page.wait_for_function("document.querySelector('#bad-command').textContent.length > 0")
    command = page.inner_text("#bad-command")
    assert command == (
        f"bricobot dataset edit root={root.resolve()} op=delete 'episodes=[1]' "
        f"out={root.resolve()}_clean"
    )


def test_run_page_refreshes(browser: Any, tmp_path: Path) -> None:
    run = write_fake_run(tmp_path / "run", steps=600)
    with bricobot_view(run) as url:
        page = open_page(browser, url)
        page.wait_for_function("window.bricobotViewer.version > 0", timeout=60_000)
        labels = page.evaluate(
            "Object.fromEntries(Object.entries(window.bricobotViewer.charts)"
            ".map(([k, u]) => [k, u.series.slice(1).map(s => s.label)]))"
        )
        assert labels["chart-loss"] == ["train loss", "validation loss"]
        assert labels["chart-terms"] == ["train l1_loss", "train kld_loss"]
        assert labels["chart-eval"] == ["success %", "95 % high", "95 % low"]
        assert labels["chart-lr"] == ["lr/main", "lr/backbone"]
        assert labels["chart-wait"] == ["waiting for data %"]
        check_rollout_video(page)
        steps = "window.bricobotViewer.charts['chart-loss'].data[0]"
        assert page.evaluate(f"{steps}.at(-1)") == 600
        with (run / "metrics.jsonl").open("a") as f:  # the run goes on
            f.write(json.dumps(train_record(620)) + "\n")
        page.wait_for_function(f"{steps}.at(-1) === 620", timeout=30_000)
        save_screenshot(page, tmp_path, "viewer_run.png")
        assert page.errors == []


def check_rollout_video(page: Any) -> None:
    """The rollout video (H.264, as evaluation writes it) loads, and either shows its frames or
    the page says this browser cannot decode it (Debian's Chromium draws H.264 black)."""
    page.wait_for_function(
        "document.querySelector('#videos video').readyState >= 2", timeout=60_000
    )
    drawn = page.evaluate(
        """(() => {
        const v = document.querySelector('#videos video');
        const c = document.createElement('canvas');
        c.width = v.videoWidth; c.height = v.videoHeight;
        const g = c.getContext('2d'); g.drawImage(v, 0, 0);
        return g.getImageData(0, 0, c.width, c.height).data.some((x, i) => i % 4 !== 3 && x > 0);
        })()"""
    )
    if not drawn:
        page.wait_for_selector("#videos .problem:has-text('cannot decode')", timeout=10_000)


CENTER_COLOR = """(() => [...document.querySelectorAll('#videos video')].map(v => {
    const c = document.createElement('canvas'); c.width = v.videoWidth; c.height = v.videoHeight;
    const g = c.getContext('2d'); g.drawImage(v, 0, 0);
    return [...g.getImageData(c.width >> 1, c.height >> 1, 1, 1).data.slice(0, 3)];
}))()"""


def test_episodes_inside_one_concatenated_file(browser: Any, tmp_path: Path) -> None:
    """After ``compact`` every camera file holds all episodes: the page shows the right episode's
    frames (by their coded colors), steps frame by frame, and stops at the episode's end."""
    from bricobot.datasets.compact import compact

    root = write_coded_dataset(tmp_path / "coded", episodes=4, length=30)
    compact(root)
    with bricobot_view(root) as url:
        page = open_page(browser, url + "#episode=2")
        page.wait_for_function("window.bricobotViewer.current === 2", timeout=60_000)
        videos = page.evaluate("window.bricobotViewer.episode.videos")
        assert [v["camera"] for v in videos] == list(CAMERAS)
        # Each camera's file holds episodes 0 and 1 first: episode 2 starts 2 s into it.
        assert all(abs(v["from_s"] - 2.0) < 1e-6 for v in videos), videos
        wait_until_videos_ready(page)
        page.evaluate("window.bricobotViewer.player.seek(10 / 30 + 0.001)")
        expect_frame(page, 2, 10)
        page.keyboard.press("ArrowRight")
        expect_frame(page, 2, 11)
        page.keyboard.press(" ")
        page.wait_for_function("!window.bricobotViewer.player.playing", timeout=30_000)
        expect_frame(page, 2, 29)  # paused on its last frame, not in episode 3


def expect_frame(page: Any, episode: int, frame: int) -> None:
    """Every video shows ``frame`` of ``episode`` (colors within the codec's error)."""
    wanted = frame_color(episode, frame)
    script = f"""(() => {{ const colors = {CENTER_COLOR};
        return colors.every(c => c.every((x, i) => Math.abs(x - {list(wanted)}[i]) <= 6)); }})()"""
    try:
        page.wait_for_function(script, timeout=10_000)
    except Exception as exc:
        raise AssertionError(f"videos show {page.evaluate(CENTER_COLOR)}, want {wanted}") from exc
