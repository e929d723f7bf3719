"""The one feature spec: built from every registered robot and env, round-tripped through a
dataset's info.json and a checkpoint, and compared by name before a policy moves a robot."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from omegaconf import OmegaConf

from bricobot.cli.app import compose_config, config_dir
from bricobot.datasets.metadata import DatasetMeta
from bricobot.datasets.schema import features_from_robot
from bricobot.datasets.writer import DatasetWriter
from bricobot.features import (
    ACTION_KEY,
    IMAGE,
    STATE_KEY,
    FeatureMismatchError,
    FeatureSet,
    image_key,
)
from bricobot.policies.base import feature_configs, feature_set
from bricobot.policies.checkpoint import make_policy, read_policy_config, save_policy
from bricobot.policies.presets import load_preset
from bricobot.registry import make
from bricobot.robots.registry import ROBOTS

REPLAY_CAMERA = "{type: replay, path: unused, width: 64, height: 48, fps: 30}"
#: What each robot preset needs to be built without hardware (ports are not opened).
OVERRIDES = {
    "so101": ["port=/dev/null", f"+cameras={{front: {REPLAY_CAMERA}}}"],
    "koch": ["port=/dev/null"],
    "bimanual_so101": ["left.port=/dev/null", "right.port=/dev/null"],
    "so101_sim": [],
}


def robot_presets() -> list[str]:
    return sorted(p.stem for p in (config_dir() / "robot").glob("*.yaml"))


def build_robot(preset: str) -> Any:
    overrides = [
        f"+robot.{o[1:]}" if o[0] == "+" else f"robot.{o}" for o in OVERRIDES.get(preset, [])
    ]
    cfg = compose_config(f"robot/{preset}", None, overrides)
    return make(ROBOTS, "robot", OmegaConf.to_object(cfg.robot))


def round_trip_info(spec: FeatureSet, root: Path) -> FeatureSet:
    features = spec.to_info(use_videos=True)
    DatasetWriter.create(root, fps=30, features=features, robot_type="test").close()
    return FeatureSet.from_info(DatasetMeta.load(root).features)


def round_trip_checkpoint(spec: FeatureSet, folder: Path) -> FeatureSet:
    configs = feature_configs(spec)
    inputs = {k: v for k, v in configs.items() if k != ACTION_KEY}
    config = load_preset("act_cpu").with_features(inputs, {ACTION_KEY: configs[ACTION_KEY]})
    save_policy(make_policy(config), folder)
    return feature_set(read_policy_config(folder).all_features())


@pytest.mark.parametrize("preset", robot_presets())
def test_every_robots_features_round_trip_through_info_json_and_a_checkpoint(
    preset: str, tmp_path: Path
) -> None:
    robot = build_robot(preset)
    spec = FeatureSet.from_robot(robot.observation_features, robot.action_features)
    assert spec.keys[0] == STATE_KEY and ACTION_KEY in spec
    assert spec[STATE_KEY].names == tuple(k for k in robot.observation_features if ".pos" in k)
    assert round_trip_info(spec, tmp_path / "ds") == spec
    by_key = {f.key: f for f in round_trip_checkpoint(spec, tmp_path / "ckpt").features}
    assert by_key == {f.key: f for f in spec.features}


def env_names() -> list[str]:
    from bricobot.envs.registry import ENVS

    return sorted(ENVS)


@pytest.mark.parametrize("env", env_names())
def test_every_envs_features_round_trip(env: str, tmp_path: Path) -> None:
    from bricobot.robots.sim import SimRobot, SimRobotConfig

    robot = SimRobot(SimRobotConfig(task=env))
    spec = FeatureSet.from_robot(robot.observation_features, robot.action_features)
    assert [f.kind for f in spec.features].count(IMAGE) == len(robot.camera_names) > 0
    assert round_trip_info(spec, tmp_path / "ds") == spec
    by_key = {f.key: f for f in round_trip_checkpoint(spec, tmp_path / "ckpt").features}
    assert by_key == {f.key: f for f in spec.features}


def test_the_dataset_schema_is_the_feature_spec_plus_timing() -> None:
    obs = {"a.pos": float, "b.pos": float, "front": (48, 64, 3)}
    info = features_from_robot(obs, {"a.pos": float, "b.pos": float})
    spec = FeatureSet.from_robot(obs, {"a.pos": float, "b.pos": float})
    assert FeatureSet.from_info(info) == spec
    assert info[image_key("front")]["dtype"] == "video"
    assert "timing.capture_time_s.front" in info


def test_a_policy_that_does_not_fit_the_robot_gets_a_diff_by_name() -> None:
    robot = FeatureSet.from_robot({"a.pos": float, "front": (48, 64, 3)}, {"a.pos": float})
    policy = FeatureSet.from_robot({"a.pos": float, "wrist": (48, 64, 3)}, {"a.pos": float})
    with pytest.raises(FeatureMismatchError, match=r"- observation\.images\.wrist"):
        policy.check_fits(robot, what="robot")
    other = FeatureSet.from_robot({"b.pos": float}, {"b.pos": float})
    with pytest.raises(FeatureMismatchError, match=r"names \['b.pos'\] \(policy\) vs \['a.pos'\]"):
        other.check_fits(robot, what="robot")
    FeatureSet.from_robot({"a.pos": float}, {"a.pos": float}).check_fits(robot)  # a subset fits


def test_a_camera_that_is_not_rgb_is_refused() -> None:
    with pytest.raises(ValueError, match=r"camera 'depth' declares shape \(48, 64\)"):
        FeatureSet.from_robot({"depth": (48, 64)}, {"a.pos": float})
