"""Damped-least-squares inverse kinematics on MuJoCo's site Jacobians.

Solves for arm joint angles that bring a site to a target position and orientation, on a scratch
``MjData`` so the simulation being controlled is never touched.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from bricobot.cameras.rendering import import_mujoco

if TYPE_CHECKING:
    import mujoco


@dataclass
class IKResult:
    q: np.ndarray  # (n_joints,) radians
    position_error_m: float
    orientation_error_rad: float


class SiteIK:
    """IK for one site over a subset of hinge joints."""

    def __init__(
        self,
        model: mujoco.MjModel,
        site: str,
        joints: list[str],
        damping: float = 1e-3,
        orientation_weight: float = 0.3,
    ) -> None:
        self._mj = import_mujoco()  # at first use, never at import (see envs/__init__.py)
        self.model = model
        self.data = self._mj.MjData(model)
        self.site_id = model.site(site).id
        ids = [model.joint(j).id for j in joints]
        self.qpos_idx = np.array([model.jnt_qposadr[i] for i in ids])
        self.dof_idx = np.array([model.jnt_dofadr[i] for i in ids])
        self.low = model.jnt_range[ids, 0]
        self.high = model.jnt_range[ids, 1]
        self.damping = damping
        self.orientation_weight = orientation_weight
        self._jacp = np.zeros((3, model.nv))
        self._jacr = np.zeros((3, model.nv))

    def solve(
        self,
        qpos: np.ndarray,
        q_init: np.ndarray,
        target_pos: np.ndarray,
        target_mat: np.ndarray | None = None,
        iterations: int = 50,
        tolerance_m: float = 1e-4,
    ) -> IKResult:
        """Joint angles (rad) for the site at ``target_pos`` (3,) and rotation ``target_mat`` (3, 3).

        ``qpos`` is the full current configuration (other bodies stay where they are); ``q_init``
        (n_joints,) seeds the search, usually the current arm angles for smooth motion.
        """
        data, mujoco = self.data, self._mj
        data.qpos[:] = qpos
        q = np.clip(np.asarray(q_init, dtype=np.float64), self.low, self.high)
        quat_cur, quat_target, rot_err = np.zeros(4), np.zeros(4), np.zeros(3)
        pos_err = np.zeros(3)
        for _ in range(iterations):
            data.qpos[self.qpos_idx] = q
            mujoco.mj_kinematics(self.model, data)
            mujoco.mj_comPos(self.model, data)
            pos_err = target_pos - data.site_xpos[self.site_id]
            if target_mat is not None:
                mujoco.mju_mat2Quat(quat_cur, data.site_xmat[self.site_id])
                mujoco.mju_mat2Quat(quat_target, target_mat.reshape(9))
                mujoco.mju_subQuat(rot_err, quat_target, quat_cur)
                # mju_subQuat gives the error in the site's own frame; the Jacobian is in world.
                rot_err = data.site_xmat[self.site_id].reshape(3, 3) @ rot_err
            if np.linalg.norm(pos_err) < tolerance_m and np.linalg.norm(rot_err) < 1e-3:
                break
            mujoco.mj_jacSite(self.model, data, self._jacp, self._jacr, self.site_id)
            jac = self._jacp[:, self.dof_idx]  # (3, n)
            err = pos_err
            if target_mat is not None:
                # Rotation error is in world frame; weight it against metres.
                jac = np.vstack(
                    [jac, self.orientation_weight * self._jacr[:, self.dof_idx]]
                )  # (6, n)
                err = np.concatenate([pos_err, self.orientation_weight * rot_err])
            # dq = J^T (J J^T + λI)^-1 e
            dq = jac.T @ np.linalg.solve(jac @ jac.T + self.damping * np.eye(jac.shape[0]), err)
            q = np.clip(q + dq, self.low, self.high)
        return IKResult(q, float(np.linalg.norm(pos_err)), float(np.linalg.norm(rot_err)))
