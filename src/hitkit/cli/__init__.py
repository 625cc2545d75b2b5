"""The `hitkit` command line: thin Typer commands that parse, call, and render with Rich."""
