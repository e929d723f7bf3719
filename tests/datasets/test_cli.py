"""``bricobot dataset …``: subcommands listed, exit codes, a wrong index rejected."""

from __future__ import annotations

import shutil

from bricobot.cli.main import main
from tests.fakes.fake_dataset import make_features, write_dataset


def test_dataset_commands(tmp_path, capsys) -> None:
    root = write_dataset(tmp_path / "ds", [3, 4], features=make_features(cameras=("front",)))
    assert main(["dataset", "--help"]) == 0
    out = capsys.readouterr().out
    for sub in ("info", "validate", "repair", "compact", "edit"):
        assert sub in out
    assert main(["dataset", "info", f"root={root}"]) == 0
    assert '"frames": 7' in capsys.readouterr().out
    assert main(["dataset", "validate", f"root={root}"]) == 0
    assert (
        main(
            [
                "dataset",
                "edit",
                f"root={root}",
                "op=delete",
                "episodes=[5]",
                f"out={tmp_path / 'o'}",
            ]
        )
        == 1
    )
    assert "do not exist" in capsys.readouterr().err and not (tmp_path / "o").exists()
    assert (
        main(
            [
                "dataset",
                "edit",
                f"root={root}",
                "op=split",
                "episodes=[1]",
                f"out={tmp_path / 'a'}",
                f"rest_out={tmp_path / 'b'}",
            ]
        )
        == 0
    )
    assert main(["dataset", "validate", f"root={tmp_path / 'a'}"]) == 0
    broken = shutil.copytree(root, tmp_path / "broken")
    (broken / "videos/observation.images.front/chunk-000/file-001.mp4").unlink()
    assert main(["dataset", "validate", f"root={broken}"]) == 1
    assert main(["dataset", "repair", f"root={broken}"]) == 0
    assert main(["dataset", "validate", f"root={broken}"]) == 0
    assert main(["dataset", "compact", f"root={root}"]) == 0
    assert main(["dataset", "validate", f"root={root}"]) == 0
    assert main(["dataset", "validate"]) == 2  # root is required
    assert main(["dataset", "nope"]) == 2
