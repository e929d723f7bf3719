"""MuJoCo task base: an arm in a scene, stepped at a fixed control rate, in robot units.

A task owns one ``MjModel``/``MjData`` pair. Actions and joint observations are in the robot's units
(degrees from the MJCF zero pose; gripper percent open, 0 closed … 100 open, mapped through the arm's
``motors.yaml``), so a policy trained on the twin runs on the real arm. Subclasses add the scene
randomization, named reward terms (each reported in ``info``) and a separate success predicate.
A task may hold several arms of the same model (``arm_prefixes``): their joints are named
``<prefix><joint>`` in the MJCF and in the actions, like the bimanual robot's keys.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from bricobot.cameras.rendering import import_mujoco, make_renderer
from bricobot.envs.randomization import RandomizationConfig, SceneRandomizer
from bricobot.motors.spec import RobotMotorsSpec, load_motors_spec

#: Second element of the seed of the scene-randomization generator (a stream separate from the
#: one that places objects, so the plain and randomized variants place objects identically).
RANDOMIZATION_STREAM = 0xD0


@dataclass
class TaskConfig:
    """Settings every task shares."""

    type: str = "task"
    #: Cameras rendered into observations; an empty list gives a state-only task.
    cameras: list[str] = field(default_factory=lambda: ["front", "wrist"])
    image_height: int = 96
    image_width: int = 96
    control_hz: int = 30
    #: Control steps before the episode is truncated.
    episode_length: int = 150
    #: Randomize lighting, colours, camera poses, object size and friction at every reset.
    randomize: bool = False
    randomization: RandomizationConfig = field(default_factory=RandomizationConfig)

    def __post_init__(self) -> None:
        if self.image_height < 8 or self.image_width < 8:
            raise ValueError(
                f"image_height/image_width must be >= 8, got {self.image_height}x{self.image_width}"
            )
        if self.control_hz <= 0:
            raise ValueError(f"control_hz must be positive, got {self.control_hz}")
        if self.episode_length <= 0:
            raise ValueError(f"episode_length must be positive, got {self.episode_length}")


def uniform(rng: np.random.Generator, bounds: list[float]) -> float:
    """One draw from ``rng``, uniform in ``[bounds[0], bounds[1]]`` (a config's range field)."""
    return float(rng.uniform(bounds[0], bounds[1]))


def hardware_path(robot: str, filename: str) -> Path:
    """Path of a file in ``hardware/<robot>/``, shipped inside the package as ``bricobot.hardware``."""
    path = Path(str(resources.files("bricobot.hardware"))) / robot / filename
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: reinstall bricobot (pip install -e .)")
    return path


class Task(abc.ABC):
    """An arm task in MuJoCo. ``reset(seed)``, ``step(action)``, observations in robot units."""

    #: Folder in ``hardware/`` and scene file of the task.
    robot: str = "so101"
    scene_file: str = "scene_pick_cube.xml"
    #: Name used for the episode's task string in datasets.
    description: str = "task"
    #: Prefix of each arm's joint names; ``("",)`` for a single arm.
    arm_prefixes: tuple[str, ...] = ("",)
    #: Geoms recoloured by randomization (table, objects), and boxes whose size it scales.
    table_geoms: tuple[str, ...] = ("table",)
    object_geoms: tuple[str, ...] = ()
    sized_geoms: tuple[str, ...] = ()

    def __init__(self, config: TaskConfig) -> None:
        self.config = config
        # MuJoCo is imported here, not at module import: choosing its GL backend may probe
        # EGL in a subprocess and sets MUJOCO_GL, which an import must never do.
        mujoco = self._mj = import_mujoco()
        self.model = self.load_model()
        self.data = mujoco.MjData(self.model)
        self.spec: RobotMotorsSpec = load_motors_spec(self.robot)
        motors = [m.name for m in self.spec.motors]
        self.joint_names = [p + name for p in self.arm_prefixes for name in motors]
        self._qpos_idx = np.array([self.model.joint(n).qposadr[0] for n in self.joint_names])
        self._dof_idx = np.array([self.model.joint(n).dofadr[0] for n in self.joint_names])
        self._act_idx = np.array([self.model.actuator(n).id for n in self.joint_names])
        gripper = self.spec.gripper_name or "gripper"
        self._grippers = [self.joint_names.index(p + gripper) for p in self.arm_prefixes]
        ranges = self.model.jnt_range[[self.model.joint(n).id for n in self.joint_names]]
        self.limits_low = self.to_units(ranges[:, 0])
        self.limits_high = self.to_units(ranges[:, 1])
        self.substeps = max(1, round(1.0 / (config.control_hz * self.model.opt.timestep)))
        for cam in config.cameras:
            if self._mj.mj_name2id(self.model, self._mj.mjtObj.mjOBJ_CAMERA, cam) < 0:
                names = [self.model.camera(i).name for i in range(self.model.ncam)]
                raise ValueError(f"unknown camera {cam!r} in {self.scene_file}; cameras: {names}")
        self._renderers: dict[tuple[int, int], Any] = {}
        self.randomizer = SceneRandomizer(
            self.model, list(self.table_geoms), list(self.object_geoms), list(self.sized_geoms)
        )
        #: Values drawn by the last randomized reset (empty for a plain task).
        self.randomization_values: dict[str, Any] = {}
        self.rng = np.random.default_rng(0)
        self.scene_rng = np.random.default_rng([0, RANDOMIZATION_STREAM])
        self.step_count = 0

    def load_model(self) -> Any:
        """The task's ``MjModel``: its scene file; override to edit the model (``MjSpec``)."""
        return self._mj.MjModel.from_xml_path(str(hardware_path(self.robot, self.scene_file)))

    # ---- units ---------------------------------------------------------------------------------

    def to_units(self, q_rad: np.ndarray) -> np.ndarray:
        """Joint radians → degrees, gripper → percent open. Shape (n_joints,) → (n_joints,)."""
        out = np.rad2deg(np.asarray(q_rad, dtype=np.float64)).copy()
        closed, opened = self.spec.gripper_closed_deg, self.spec.gripper_open_deg
        out[self._grippers] = (out[self._grippers] - closed) / (opened - closed) * 100.0
        return out

    def from_units(self, values: np.ndarray) -> np.ndarray:
        """Degrees / gripper percent → joint radians. Shape (n_joints,) → (n_joints,)."""
        deg = np.asarray(values, dtype=np.float64).copy()
        closed, opened = self.spec.gripper_closed_deg, self.spec.gripper_open_deg
        deg[self._grippers] = closed + deg[self._grippers] / 100.0 * (opened - closed)
        return np.deg2rad(deg)

    # ---- episode -------------------------------------------------------------------------------

    def reset(self, seed: int | None = None) -> None:
        """Start an episode: home pose, objects placed from ``seed`` (and, with ``randomize``, the
        scene's look and physics drawn from it too)."""
        if seed is not None:
            self.rng = np.random.default_rng(seed)
            self.scene_rng = np.random.default_rng([seed, RANDOMIZATION_STREAM])
        self._mj.mj_resetData(self.model, self.data)
        home = self.from_units(self.home_pose())
        self.data.qpos[self._qpos_idx] = home
        self.data.ctrl[self._act_idx] = home
        if self.config.randomize:
            self.randomization_values = self.randomizer.apply(
                self.scene_rng, self.config.randomization
            )
        self.randomize(self.rng)
        self._mj.mj_forward(self.model, self.data)
        self.step_count = 0
        self.on_reset()

    def step(self, action: np.ndarray) -> np.ndarray:
        """Apply absolute joint targets (robot units, shape (n_joints,)) for one control period.

        Values outside the joint limits are clipped; NaN/inf or a wrong shape raise ``ValueError``.
        Returns the targets actually applied.
        """
        applied = self.set_controls(self.data, action)
        self._mj.mj_step(self.model, self.data, nstep=self.substeps)
        self.step_count += 1
        self.after_step()
        return applied

    def set_controls(self, data: Any, action: Any) -> np.ndarray:
        """Check ``action`` and write it as actuator targets into ``data`` (this task's, or a copy
        an expert simulates on: the same arithmetic, so a plan replays exactly). Returns it."""
        applied = self.check_action(action)
        data.ctrl[self._act_idx] = self.from_units(applied)
        return applied

    def check_action(self, action: Any) -> np.ndarray:
        values = np.asarray(action, dtype=np.float64)
        if values.shape != (len(self.joint_names),):
            raise ValueError(
                f"action must have shape ({len(self.joint_names)},) for joints "
                f"{self.joint_names}, got shape {values.shape}"
            )
        if not np.all(np.isfinite(values)):
            bad = [n for n, v in zip(self.joint_names, values, strict=True) if not np.isfinite(v)]
            raise ValueError(f"action has non-finite values for {bad}: {values.tolist()}")
        return np.clip(values, self.limits_low, self.limits_high)

    @property
    def truncated(self) -> bool:
        return self.step_count >= self.config.episode_length

    # ---- observations --------------------------------------------------------------------------

    def joint_positions(self) -> np.ndarray:
        """Measured joint positions in robot units, float64 (n_joints,)."""
        return self.to_units(self.data.qpos[self._qpos_idx])

    def render(
        self, camera: str, height: int | None = None, width: int | None = None
    ) -> np.ndarray:
        """RGB image uint8 (H, W, 3) from a named camera."""
        size = (height or self.config.image_height, width or self.config.image_width)
        renderer = self._renderers.get(size)
        if renderer is None:
            renderer = make_renderer(self.model, *size)
            self._renderers[size] = renderer
        renderer.update_scene(self.data, camera=camera)
        return np.asarray(renderer.render(), dtype=np.uint8)

    def images(self) -> dict[str, np.ndarray]:
        return {cam: self.render(cam) for cam in self.config.cameras}

    def close(self) -> None:
        for renderer in self._renderers.values():
            renderer.close()
        self._renderers.clear()

    # ---- rewards -------------------------------------------------------------------------------

    #: Weight of each reward term; the reward is the weighted sum.
    reward_weights: dict[str, float] = {}  # noqa: RUF012 - read-only class default

    def reward(self) -> tuple[float, dict[str, float]]:
        """Weighted sum of the named terms, and the terms themselves (reported in ``info``)."""
        terms = self.reward_terms()
        total = sum(self.reward_weights.get(name, 0.0) * value for name, value in terms.items())
        return float(total), terms

    # ---- hooks ---------------------------------------------------------------------------------

    @abc.abstractmethod
    def home_pose(self) -> np.ndarray:
        """Joint targets (robot units) at the start of every episode."""

    @abc.abstractmethod
    def randomize(self, rng: np.random.Generator) -> None:
        """Place the task's objects for a new episode (called with the arm at home, after the
        scene randomization, so object sizes are this episode's)."""

    @abc.abstractmethod
    def reward_terms(self) -> dict[str, float]: ...

    @abc.abstractmethod
    def is_success(self) -> bool:
        """The task's success predicate at the current step."""

    def on_reset(self) -> None:  # noqa: B027 - optional hook
        """Called at the end of :meth:`reset`."""

    def after_step(self) -> None:  # noqa: B027 - optional hook
        """Called after each control step (e.g. to count consecutive held steps)."""
