"""``bricobot doctor``: check serial permissions, the render backend, video encoders and the GPU.

Example::

    bricobot doctor port=/dev/ttyACM0
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

from bricobot.cli.app import run_command


@dataclass
class DoctorCommandConfig:
    #: a serial port to check; empty: every USB serial port found
    port: str = ""


def check_serial(port: str) -> list[tuple[str, bool, str]]:
    from bricobot.motors.ports import list_serial_ports, port_access_problem

    ports = [port] if port else [p.device for p in list_serial_ports()]
    if not ports:
        return [("serial", True, "no USB serial port plugged in (nothing to check)")]
    out = []
    for p in ports:
        problem = port_access_problem(p)
        out.append((f"serial {p}", problem is None, problem or "read/write OK"))
    return out


def check_rendering() -> tuple[str, bool, str]:
    """Which MuJoCo GL backend renders here (each tried in a subprocess)."""
    from bricobot.cameras.rendering import HEADLESS_BACKENDS, backend_works, no_backend_message

    forced = os.environ.get("MUJOCO_GL", "").strip().lower()
    for backend in [forced] if forced else list(HEADLESS_BACKENDS):
        if backend_works(backend):
            return ("rendering", True, f"MUJOCO_GL={backend} works")
    return ("rendering", False, no_backend_message(forced or "egl", "no backend rendered"))


def check_video() -> tuple[str, bool, str]:
    try:
        import av
    except ImportError:
        return ("video", False, "PyAV missing: pip install av")
    wanted = ["libsvtav1", "libx264", "libx265", "libvpx-vp9", "mpeg4"]
    have = [c for c in wanted if c in av.codecs_available]
    return ("video", bool(have), f"encoders: {', '.join(have) or 'none of ' + ', '.join(wanted)}")


#: The NVIDIA driver's device node for the first GPU: there when a GPU and its driver are.
NVIDIA_DEVICE = "/dev/nvidia0"


def check_gpu(nvidia_device: str = NVIDIA_DEVICE) -> tuple[str, bool, str]:
    """CUDA as torch sees it. No GPU is fine (training runs on CPU); a GPU that torch cannot use
    fails, with the fix: a CPU-only torch build, or a driver that torch's CUDA cannot talk to."""
    try:
        import torch
    except ImportError:
        return ("gpu", False, "torch missing: install it first, as the README's quick start says")
    if torch.cuda.is_available():
        major, minor = torch.cuda.get_device_capability(0)
        name = torch.cuda.get_device_name(0)
        return (
            "gpu",
            True,
            f"CUDA {torch.version.cuda}: {name} (compute capability {major}.{minor})",
        )
    if not os.path.exists(nvidia_device):
        return ("gpu", True, "no CUDA GPU: training runs on CPU (slow; use small presets)")
    if torch.version.cuda is None:
        return (
            "gpu",
            False,
            f"an NVIDIA GPU is here ({nvidia_device}) but torch {torch.__version__} is a CPU-only "
            "build: install the CUDA build of torch first, then bricobot with -c constraints.txt "
            "(README, quick start)",
        )
    return (
        "gpu",
        False,
        f"an NVIDIA GPU is here ({nvidia_device}) but torch (CUDA {torch.version.cuda}) cannot use "
        f"it: check that `nvidia-smi` works and that the driver supports CUDA {torch.version.cuda}",
    )


def run(cfg: DoctorCommandConfig) -> int:
    checks = [*check_serial(cfg.port), check_rendering(), check_video(), check_gpu()]
    for name, ok, text in checks:
        print(f"[{'ok' if ok else 'FAIL'}] {name}: {text}")
    return 0 if all(ok for _, ok, _ in checks) else 1


def main(argv: Sequence[str]) -> int:
    return run_command(
        "doctor",
        DoctorCommandConfig,
        run,
        argv,
        "Check permissions, rendering, video encoders and GPU.",
    )
