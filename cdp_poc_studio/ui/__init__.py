"""The PySide6 studio: main window, one module per page, widgets and Qt item models."""
