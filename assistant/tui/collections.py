"""The collections screen (F4): every indexed collection with its counts;
add a folder, re-sync one with a progress bar, see skipped files and why,
choose one for the chat, delete one."""

from __future__ import annotations

from typing import Any

from textual import work
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Label, ProgressBar, Static

from ..errors import AssistantError
from ..retriever import Deletes, Describes, ListsCollections
from .screens import MODAL_CSS, PromptScreen


def collection_rows(engine: Any) -> list[dict[str, Any]]:
    """The collections of the engine's retriever, each with what it describes of
    itself, through the retriever contract's optional capabilities: all of them
    when it ``ListsCollections``, else the one in use when it exists; a
    collection that cannot be described is listed with the problem."""
    current = engine.retriever()
    if isinstance(current, ListsCollections):
        names = current.collections()
    else:
        names = [engine.settings.collection] if current.exists() else []
    rows = []
    for name in names:
        row: dict[str, Any] = {"name": name}
        try:
            retriever = engine.retriever(name)
            if isinstance(retriever, Describes):
                row.update(retriever.describe())
        except AssistantError as exc:
            row["root"] = f"unreadable: {exc.message}"
        rows.append(row)
    return rows


class CollectionsScreen(ModalScreen[str | None]):
    """Returns the name of the collection chosen for the chat, or None."""

    DEFAULT_CSS = MODAL_CSS + """
    CollectionsScreen DataTable { height: auto; max-height: 14; }
    CollectionsScreen #report { height: auto; max-height: 12; margin-top: 1; }
    CollectionsScreen ProgressBar { margin-top: 1; }
    """
    BINDINGS = [Binding("escape", "dismiss(None)", "Close"), Binding("a", "add", "Add a folder"),
                Binding("s", "sync", "Sync"), Binding("d", "delete", "Delete")]

    def __init__(self, engine: Any) -> None:
        super().__init__()
        self.engine = engine
        self.syncing = False
        self.last_report: Any = None

    def compose(self) -> Any:
        with Vertical():
            yield Label("Collections", classes="title")
            yield DataTable(cursor_type="row", id="table")
            yield ProgressBar(total=None, show_eta=False, id="progress")
            yield Static("", id="report", markup=False)
            yield Static("Enter uses it in the chat · a adds a folder · s syncs · d deletes · Esc closes",
                         classes="hint")

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("name", "files", "chunks", "index", "folder")
        self.query_one(ProgressBar).display = False
        self.refresh_table()
        table.focus()

    def refresh_table(self) -> None:
        table = self.query_one(DataTable)
        table.clear()
        for row in collection_rows(self.engine):
            table.add_row(row["name"], str(row.get("files", "?")), str(row.get("chunks", "?")),
                          str(row.get("index", "?")), str(row.get("root", "")), key=row["name"])
        if not table.row_count:
            self.query_one("#report", Static).update("No collections yet: press a to index a folder.")

    def _selected(self) -> str | None:
        table = self.query_one(DataTable)
        if not table.row_count:
            return None
        return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.dismiss(event.row_key.value)

    def action_add(self) -> None:
        self.app.push_screen(PromptScreen("Folder to index (name it with  FOLDER = NAME, default: the folder's name)"),
                             self._add)

    def _add(self, value: str | None) -> None:
        if not value or not value.strip():
            return
        folder, _, name = value.partition("=")
        from pathlib import Path

        path = Path(folder.strip()).expanduser()
        self.start_sync(path, name.strip() or path.name)

    def action_sync(self) -> None:
        name = self._selected()
        if name is None:
            return
        root = next((r.get("root") for r in collection_rows(self.engine) if r["name"] == name), None)
        if root:
            self.start_sync(root, name)

    def start_sync(self, folder: Any, name: str) -> None:
        if self.syncing:
            self.app.notify("a sync is already running", severity="warning")
            return
        self.syncing = True
        bar = self.query_one(ProgressBar)
        bar.display = True
        bar.update(total=None, progress=0)
        self.query_one("#report", Static).update(f"syncing {name} from {folder}…")
        self.sync(folder, name)

    @work(thread=True, exclusive=True, group="sync")
    def sync(self, folder: Any, name: str) -> None:
        def progress(done: int, total: int) -> None:
            self.app.call_from_thread(self.query_one(ProgressBar).update, total=total, progress=done)

        try:
            report = self.engine.index(folder, collection=name, on_progress=progress)
        except AssistantError as exc:
            self.app.call_from_thread(self.sync_done, None, str(exc))
        except Exception as exc:
            self.app.call_from_thread(self.sync_done, None, f"{type(exc).__name__}: {exc}")
        else:
            self.app.call_from_thread(self.sync_done, report, None)

    def sync_done(self, report: Any, error: str | None) -> None:
        self.syncing = False
        self.query_one(ProgressBar).display = False
        self.last_report = report
        if error:
            self.query_one("#report", Static).update(f"error: {error}")
            self.app.notify(error, title="sync", severity="error", timeout=10)
            return
        lines = [f"{report.collection}: {report.added} added, {report.updated} updated, {report.removed} removed, "
                 f"{report.unchanged} unchanged, {len(report.skipped)} skipped; {report.chunks_embedded} chunks "
                 f"embedded, {report.chunks_total} in the index ({report.seconds:.1f} s)"]
        lines += [f"  skipped {path}: {reason}" for path, reason in report.skipped]
        self.query_one("#report", Static).update("\n".join(lines))
        self.refresh_table()

    def action_delete(self) -> None:
        name = self._selected()
        if name is None:
            return
        self.app.push_screen(PromptScreen(f"Type the name to delete collection {name!r} (its index, not your files)"),
                             lambda typed: self._delete(name) if typed == name else None)

    def _delete(self, name: str) -> None:
        retriever = self.engine.retriever(name)
        if not isinstance(retriever, Deletes):  # an optional capability
            self.app.notify(f"the {self.engine.settings.retriever!r} retriever cannot delete collections",
                            title="delete", severity="error", timeout=10)
            return
        try:
            retriever.delete()
        except AssistantError as exc:
            self.app.notify(str(exc), title="delete", severity="error", timeout=10)
            return
        self.engine.forget_retrievers()
        self.app.notify(f"deleted collection {name!r}")
        self.query_one("#report", Static).update("")
        self.refresh_table()
