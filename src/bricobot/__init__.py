"""bricobot: teach low-cost serial-servo robot arms new skills at home.

Hardware drivers, teleoperation, crash-safe datasets, ACT and Diffusion policies, and MuJoCo twins
of the arms, all behind small interfaces so the same code runs on a real arm or in simulation.
"""

__version__ = "0.1.0"
