"""The chat's pickers and forms as a mixin of :class:`ChatApp`: strategy and
its options, collection, adapter, decoding. Each applies to the next turns
and shows in the header."""

from __future__ import annotations

from typing import Any

from ..errors import AssistantError
from .forms import (FormScreen, changed_options, decoding_check, decoding_fields, decoding_overrides,
                    strategy_check, strategy_fields)
from .screens import PickerScreen


class PickerActions:
    """Actions that choose what the next turn runs with (mixed into ChatApp)."""

    session: Any
    notify: Any
    push_screen: Any
    update_header: Any

    def strategy_choices(self) -> list[tuple[str, str]]:
        """(name, first docstring line) of every registered strategy."""
        registry = self.session.engine.host.registry.of("strategy")
        return [(name, ((reg.obj.__doc__ or "").strip().splitlines() or [""])[0])
                for name, reg in sorted(registry.items())]

    def action_pick_strategy(self) -> None:
        choices = self.strategy_choices()
        current = self.session.strategy or self.session.engine.settings.strategy
        self.push_screen(PickerScreen("Strategy for the next turns", choices, current), self._set_strategy)

    def _set_strategy(self, name: str | None) -> None:
        if name:
            if name != (self.session.strategy or self.session.engine.settings.strategy):
                self.session.options = {}
            self.session.strategy = name
            self.update_header()
            self.action_strategy_options(quiet=True)

    def action_strategy_options(self, quiet: bool = False) -> None:
        name = self.session.strategy or self.session.engine.settings.strategy
        registration = self.session.engine.host.registry.of("strategy").get(name)
        if registration is None:
            self.notify(f"unknown strategy {name!r}", severity="error")
            return
        fields = strategy_fields(registration.obj, self.session.options)
        if not fields:
            if not quiet:
                self.notify(f"{name} has no options", severity="information")
            return
        self.push_screen(FormScreen(f"Options of {name} (for the next turns)", fields,
                                    strategy_check(name, registration.obj)),
                         lambda values: values is not None and self._set_options(registration.obj, values))

    def _set_options(self, strategy_class: type, values: dict[str, str]) -> None:
        self.session.options = changed_options(strategy_class, values)
        self.update_header()

    def action_pick_collection(self) -> None:
        from .collections import collection_rows

        names = [row["name"] for row in collection_rows(self.session.engine)]
        if not names:
            self.notify("no collections yet: run `assistant index FOLDER` first", severity="warning")
            return
        current = self.session.collection or self.session.engine.settings.collection
        self.push_screen(PickerScreen("Collection to search", [(n, "") for n in names], current),
                         self._set_collection)

    def _set_collection(self, name: str | None) -> None:
        if name:
            self.session.collection = name
            self.update_header()

    def action_pick_adapter(self) -> None:
        from ..adapters import AdapterError, AdapterRegistry

        try:
            infos = [i for i in AdapterRegistry().list() if i.kind != "reward"]  # reward models judge, not chat
        except AdapterError as exc:
            self.notify(str(exc), severity="error")
            return
        choices = [("none", "the base model alone")] + [
            (i.name, f"{i.kind}, {i.config.get('method', 'sft')}, validation loss "
                     f"{i.metrics.get('eval_loss_after', float('nan')):.3f}") for i in infos]
        current = self.session.adapter or self.session.engine.settings.adapter or "none"
        if not infos:
            self.notify("no adapters yet: train one with `assistant tune sft`", severity="warning")
        self.push_screen(PickerScreen("Adapter for the next turns", choices, current), self._set_adapter)

    def _set_adapter(self, name: str | None) -> None:
        if name:
            self.session.adapter = name
            self.update_header()

    def action_decoding(self) -> None:
        try:
            current = self.session.decoding()
        except AssistantError as exc:
            self.notify(str(exc), severity="error")
            return
        self.push_screen(FormScreen("Decoding for the next turns", decoding_fields(current),
                                    decoding_check(self.session.engine.decoding)), self._set_decoding)

    def _set_decoding(self, values: dict[str, str] | None) -> None:
        if values is None:
            return
        try:
            self.session.set_decoding(decoding_overrides(values))
        except (ValueError, AssistantError) as exc:  # the form checked already; a race at most
            self.notify(str(exc), severity="error")
            return
        self.update_header()
