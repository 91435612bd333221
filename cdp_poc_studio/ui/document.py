"""The open scenario: one pydantic `Scenario`, its file, and whether it has unsaved changes."""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from cdp_poc_studio.domain.schema import ExtensionSchema
from cdp_poc_studio.domain.schema_file import SchemaFileError
from cdp_poc_studio.roundtrip.scenario import Scenario, load_scenario, save_scenario

UNTITLED = "Untitled"


def new_scenario() -> Scenario:
    return Scenario(name="New PoC")


class ScenarioDocument(QObject):
    """The document the window edits. Pages read `scenario` when shown and `replace` it when left.

    Signals:
        loaded(): a new or opened scenario replaced the previous one; every page reloads.
        modified_changed(bool): the unsaved-changes state flipped.
        path_changed(): the file it is saved in changed (save as, open, new).
    """

    loaded = Signal()
    modified_changed = Signal(bool)
    path_changed = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.scenario: Scenario = new_scenario()
        self.path: Path | None = None
        self._modified = False
        self._schema_cache: tuple[str | None, ExtensionSchema] | None = None

    # -- state ------------------------------------------------------------------------------------------------

    @property
    def modified(self) -> bool:
        return self._modified

    def set_modified(self, modified: bool) -> None:
        if modified != self._modified:
            self._modified = modified
            self.modified_changed.emit(modified)

    @property
    def display_name(self) -> str:
        return self.path.name if self.path else UNTITLED

    @property
    def base_dir(self) -> Path | None:
        return self.path.parent if self.path else None

    def replace(self, scenario: Scenario) -> None:
        """Take a page's edits; marks the document modified when anything changed."""
        if scenario != self.scenario:
            self.scenario = scenario
            self.set_modified(True)

    # -- the extension schema -----------------------------------------------------------------------------------

    def schema(self) -> ExtensionSchema:
        """The schema in effect: the scenario's schema file when it names one, else its inline schema.

        Raises SchemaFileError when the file cannot be read.
        """
        key = self.scenario.schema_file
        if key is None:
            return self.scenario.extensions
        if self._schema_cache is not None and self._schema_cache[0] == key:
            return self._schema_cache[1]
        schema = self.scenario.resolved_schema(self.base_dir)
        self._schema_cache = (key, schema)
        return schema

    def set_schema(self, schema: ExtensionSchema) -> None:
        """An edited schema is kept inline in the scenario: the schema file, shared with others, is left as it was."""
        try:
            current = self.schema()
        except SchemaFileError:
            current = None
        if schema == current:
            return
        self.replace(self.scenario.model_copy(update={"schema_file": None, "extensions": schema}))

    # -- file operations ----------------------------------------------------------------------------------------

    def new(self) -> None:
        self._load(new_scenario(), None)

    def open(self, path: Path) -> None:
        """Raises ScenarioError with the file, line and fix when the file cannot be used."""
        self._load(load_scenario(path), path.resolve())

    def open_template(self, path: Path) -> None:
        """A bundled scenario as a new, untitled document, so that saving never overwrites the template."""
        scenario = load_scenario(path)
        if scenario.schema_file and not Path(scenario.schema_file).is_absolute():
            absolute = (path.parent / scenario.schema_file).resolve()
            scenario = scenario.model_copy(update={"schema_file": absolute.as_posix()})
        if scenario.source is not None:

            def beside(file: str) -> str:
                return file if Path(file).is_absolute() else (path.parent / file).resolve().as_posix()

            scenario = scenario.model_copy(update={"source": scenario.source.with_paths(beside)})
        self._load(scenario, None)

    def _load(self, scenario: Scenario, path: Path | None) -> None:
        self.scenario = scenario
        self.path = path
        self._schema_cache = None
        self.set_modified(False)
        self.path_changed.emit()
        self.loaded.emit()

    def _sample_relative_to(self, scenario: Scenario, folder: Path) -> Scenario:
        """A [source] sample (and orders file) named relative to the folder the scenario is saved in, as for the
        schema file."""
        if scenario.source is None:
            return scenario
        base = self.base_dir

        def relative(file: str) -> str:
            sample = Path(file)
            if not sample.is_absolute():
                if base is None:
                    return file
                sample = (base / sample).resolve()
            try:
                return Path(os.path.relpath(sample, folder)).as_posix()
            except ValueError:  # another drive (Windows): only an absolute path can name it
                return file

        return scenario.model_copy(update={"source": scenario.source.with_paths(relative)})

    def save(self, path: Path | None = None) -> Path:
        """Save to `path` (save as) or to the current file. Raises OSError."""
        target = (path or self.path or Path(f"{UNTITLED}.toml")).resolve()
        scenario = self.scenario
        if (
            scenario.schema_file
            and not Path(scenario.schema_file).is_absolute()
            and self.base_dir
            and (target.parent != self.base_dir)
        ):
            # Keep pointing at the same schema file from the new folder.
            old = Path(scenario.schema_file)
            absolute = (self.base_dir / old).resolve()
            relative = Path(os.path.relpath(absolute, target.parent))
            scenario = scenario.model_copy(update={"schema_file": relative.as_posix()})
        elif scenario.schema_file and Path(scenario.schema_file).is_absolute():
            # A template's schema, made absolute when opened: relative to where the scenario now lives.
            relative = Path(os.path.relpath(scenario.schema_file, target.parent))
            scenario = scenario.model_copy(update={"schema_file": relative.as_posix()})
        scenario = self._sample_relative_to(scenario, target.parent)
        save_scenario(scenario, target)
        self.scenario = scenario
        moved = target != self.path
        self.path = target
        self.set_modified(False)
        if moved:
            self.path_changed.emit()
        return target
