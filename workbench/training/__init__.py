"""Training engine: datasets, transforms, models, schedules, the Learner and the LR finder.

Depends on torch and workbench.core only; never on Qt (a test enforces it). The GUI drives it
through :mod:`workbench.training.session` and listens to :mod:`workbench.training.reports`.
"""
