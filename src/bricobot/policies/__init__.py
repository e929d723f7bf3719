"""bricobot.policies: ACT and Diffusion Policy behind one interface.

- :mod:`.base`: the :class:`~.base.Policy` interface and :class:`~.base.PolicyConfig` (feature spec);
- :mod:`.normalize`: normalization statistics as model buffers;
- :mod:`.backbones`: ResNet18 in plain torch, spatial softmax;
- :mod:`.checkpoint`: save/load (``config.json`` + ``model.safetensors``), ``check_features``;
- :mod:`.presets`: the YAML presets of ``hydra_configs/policy/`` as typed configs;
- :mod:`.act`, :mod:`.diffusion`: the models.
"""
