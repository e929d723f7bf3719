"""bricobot.training: one trainer for every policy, sim evaluation, and the demo pipeline.

- :mod:`.trainer`: ``train(policy_config, data, trainer_config, output_dir)``;
- :mod:`.data`, :mod:`.dataset_source`: episodes in memory, windows, seeded batches;
- :mod:`.state`: exact-resume checkpoints; :mod:`.plot`: loss-curve PNG;
- :mod:`.evaluation`: vectorized evaluation with a Wilson interval;
- :mod:`.pipeline`: ``run_demo`` (record → train → evaluate → report).
"""
