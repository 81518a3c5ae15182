"""The corrections loop in the window: Mistakes view, corrections queue, refit.

Each part is its own module; :func:`workbench.qt.refit.hookup.install_loop` adds them to a
main window with a few lines, so the window and the training panel stay thin.
"""
