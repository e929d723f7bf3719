"""``bricobot view``: a local, read-only web page for a dataset or a training run.

:mod:`~bricobot.viewer.server` serves the pages and the files, :mod:`~bricobot.viewer.dataset_api`
and :mod:`~bricobot.viewer.run_api` turn a folder into JSON, and ``static/`` holds every asset the
pages load (uPlot included), so the viewer works with no network at all.
"""
