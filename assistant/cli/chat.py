"""``assistant chat``: the terminal UI (also what a bare ``assistant`` opens in a terminal)."""

from __future__ import annotations

import click

from .app import AppContext, retriever_option_flag, root

EPILOG = """\b
Keys (F1 shows them all; rebind them under [plugins.tui.keys] in the config file):
  Enter   ask              Esc     stop the answer      Ctrl+R  regenerate
  Ctrl+F  rank answers     Ctrl+G  good answer          Ctrl+B  bad answer
  Ctrl+S  sources          Ctrl+T  trace                Ctrl+O  strategy
  Ctrl+L  collection       F2      temperature          Ctrl+N  new conversation
  F3      saved conversations   F4      collections
  Ctrl+P  command palette  Ctrl+Q  quit
"""


@root.command(epilog=EPILOG)
@click.option("--collection", "-c", help="Collection to search (default: the `collection` setting).")
@click.option("--strategy", "-s", help="Prompt strategy for the first turns (Ctrl+O changes it).")
@click.option("--model", help='Generator: "embedded", a folder, a .gguf file or a hub id.')
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda", "mps"]), help="Where to run the model.")
@click.option("--rank-samples", type=click.IntRange(2, 8), default=2, show_default=True,
              help="Answers drawn when you press Ctrl+F to rank them.")
@click.option("--resume", metavar="ID", help="Carry on a saved conversation (see `assistant history list`).")
@click.option("--no-history", is_flag=True, help="Do not save this conversation.")
@click.option("--online", is_flag=True, help="Allow downloading a named remote model.")
@retriever_option_flag
@click.pass_obj
def chat(app: AppContext, collection: str | None, strategy: str | None, model: str | None, device: str | None,
         rank_samples: int, resume: str | None, no_history: bool, online: bool) -> None:
    """Chat with your documents in the terminal.

    Answers stream in as they are written, with their sources (Enter on a
    source opens it in its file) and a trace of what the strategy did. Rate
    answers, or draw several and rank them: everything goes to the feedback
    store that `assistant feedback export` turns into training data.
    """
    from ..errors import ConfigError
    from ..history import HistoryStore
    from ..tui.app import ChatApp
    from ..tui.session import ChatSession

    if resume and no_history:
        raise ConfigError("--resume and --no-history cannot go together", "drop one of them")
    engine = app.engine(model=model, device=device, offline=False if online else None)
    engine.progress = None  # the UI reports loading itself
    session = ChatSession(engine, strategy=strategy, collection=collection,
                          history=None if no_history else HistoryStore())
    engine.strategy(strategy)  # an unknown strategy fails here, before the screen opens
    engine.retriever(collection)  # so do a wrong -R option, an unknown retriever or collection name
    if resume:
        session.resume(session.history.resolve(resume))  # the app shows the resumed turns when it opens
    ChatApp(session, rank_samples=rank_samples).run()
