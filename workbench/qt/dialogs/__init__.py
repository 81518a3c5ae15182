"""Project-level dialogs: welcome / recent projects, new project, open project, import."""
