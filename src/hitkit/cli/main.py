"""`hitkit`: the entry point; command groups live in their own modules."""

from __future__ import annotations

import typer

from hitkit import __version__
from hitkit.cli import crowd, demo_command, launch_commands, server
from hitkit.cli.exec_command import exec_command
from hitkit.cli import project_commands
from hitkit.cli import results_commands

app = typer.Typer(no_args_is_help=True, add_completion=False, help="hitkit: an MTurk-compatible marketplace and toolkit.")
app.add_typer(server.app, name="server")
app.add_typer(crowd.app, name="crowd")
project_commands.register(app)
app.command("exec", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})(exec_command)
app.command("launch")(launch_commands.launch)
app.command("balance")(launch_commands.balance)
app.command("demo")(demo_command.demo)
results_commands.register(app)
__import__("hitkit.cli.quality_commands").cli.quality_commands.register(app)
__import__("hitkit.cli.live_commands").cli.live_commands.register(app)


@app.command()
def version() -> None:
    """Print hitkit's version."""
    typer.echo(__version__)


if __name__ == "__main__":
    app()
