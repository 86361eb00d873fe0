"""Registering an adapter kind. The interface an adapter class must offer is
defined by the adapters feature; until it lands, kinds are only listed."""

from assistant import hookimpl


class NoAdapter:
    """The base model, unchanged: the kind every adapter kind is compared with."""


@hookimpl
def register_adapter_kinds(register):
    register("none", NoAdapter)
