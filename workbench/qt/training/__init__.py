"""Training panel: settings, stages, LR finder, live plots and run history on a worker thread.

``TrainingPanel(project)`` is the only entry point the main window needs; the parts live in
their own modules so each stays small and testable.
"""

from workbench.qt.training.panel import TrainingPanel

__all__ = ["TrainingPanel"]
