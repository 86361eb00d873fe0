"""A command: `assistant collections` lists the indexed collections."""

from assistant import hookimpl


@hookimpl
def register_commands(cli):
    import click

    @cli.command()
    def collections():
        """List the indexed collections."""
        from assistant import collections_dir

        folder = collections_dir()
        for path in sorted(folder.iterdir()) if folder.exists() else []:
            click.echo(path.name)
