"""`hitkit new`, `hitkit import simple-amt` and `hitkit preview`: making a project folder and looking at its HITs."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import NoReturn, Optional

import typer
from rich.console import Console
from rich.markup import escape

from hitkit.requester.inputs import InputError, read_input
from hitkit.requester.preview import PreviewError, serve, write_preview
from hitkit.requester.project import Project, ProjectError
from hitkit.requester.scaffold import ScaffoldError, import_simple_amt, new_project
from hitkit.templates import BUILTINS

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)
import_app = typer.Typer(no_args_is_help=True, help="Turn another tool's task into a hitkit project folder.")


def fail(message: str) -> NoReturn:
    """Print `error: MESSAGE` to stderr and exit 1."""
    err.print(f"[red]error:[/red] {escape(message)}")
    raise typer.Exit(1)


def warn(message: str) -> None:
    """Print `warning: MESSAGE` to stderr."""
    err.print(f"[yellow]warning:[/yellow] {escape(message)}")


def new(
    name: Optional[str] = typer.Argument(None, help="The project folder to make, e.g. my-task."),
    template: Optional[str] = typer.Option(None, "--template", "-t", help="A built-in template id (see --list)."),
    force: bool = typer.Option(False, "--force", help="Write into an existing non-empty folder (other files are kept)."),
    list_templates: bool = typer.Option(False, "--list", help="List the built-in templates and exit."),
) -> None:
    """Make a project folder (hitkit.toml, template.html, example.csv) from a built-in template."""
    if list_templates:
        width = max(len(i) for i in BUILTINS)
        for template_id, description in BUILTINS.items():
            out.print(f"{template_id:<{width}}  {escape(description)}")
        return
    if not name:
        fail("give the project folder to make: hitkit new NAME --template ID (hitkit new --list shows the templates)")
    if not template:
        fail(f"choose a template with --template ID; the templates are: {', '.join(BUILTINS)}")
    try:
        written = new_project(name, template, force=force)
    except ScaffoldError as e:
        fail(str(e))
    except OSError as e:
        fail(f"cannot write {name}: {e.strerror or e}")
    out.print(f"Made {escape(name)}/ from the {template} template: " + ", ".join(p.name for p in written))
    out.print(f"Next: edit {escape(name)}/hitkit.toml, then look at a HIT with "
              f"`hitkit preview {escape(name)} --input {escape(name)}/example.csv`.")


@import_app.command("simple-amt")
def import_simpleamt(
    properties: Path = typer.Argument(..., help="simple-amt's HIT properties JSON (hit_properties/*.json)."),
    template: Path = typer.Argument(..., help="simple-amt's Jinja template (hit_templates/*.html)."),
    name: Path = typer.Argument(..., help="The project folder to make."),
    input_file: Optional[Path] = typer.Option(None, "--input", help="simple-amt's input file: one JSON value per line."),
    force: bool = typer.Option(False, "--force", help="Write into an existing non-empty folder (other files are kept)."),
) -> None:
    """Make a project folder from a simple-amt HIT properties file and template (and its JSONL input)."""
    try:
        result = import_simple_amt(properties, template, name, input_path=input_file, force=force)
    except ScaffoldError as e:
        fail(str(e))
    except OSError as e:
        fail(f"cannot write {name}: {e.strerror or e}")
    out.print(f"Made {escape(str(name))}/ from simple-amt's {escape(properties.name)} and {escape(template.name)}:")
    for line in result.mapped:
        out.print(f"  {escape(line)}")
    for message in result.warnings:
        warn(message)
    data = next((p for p in result.files if p.suffix.lower() in (".jsonl", ".json", ".ndjson")), None)
    shown = escape(str(data)) if data else "INPUT.jsonl"
    out.print(f"Next: `hitkit preview {escape(str(name))} --input {shown}`.")


def preview(
    name: Path = typer.Argument(..., help="The project folder."),
    input_file: Path = typer.Option(..., "--input", help="The input rows: CSV, JSONL or Parquet."),
    row: int = typer.Option(1, "--row", help="Which row to show, counting from 1."),
    output: Optional[Path] = typer.Option(None, "--output", help="Where to write the page (default: "
                                          "NAME/.hitkit/preview/row-N.html)."),
    serve_page: bool = typer.Option(False, "--serve", help="Serve the page on 127.0.0.1 until Ctrl-C."),
    port: int = typer.Option(0, "--port", help="With --serve: the port (default: a free one)."),
) -> None:
    """Render one input row to a local page, as a worker's preview shows it."""
    try:
        project = Project.load(name)
        data = read_input(input_file)
        result = write_preview(project, data, row=row, output=output)
    except (ProjectError, InputError, PreviewError) as e:
        fail(str(e))
    except OSError as e:
        fail(f"cannot write the preview: {e.strerror or e}")
    if result.unused_columns:
        warn(f"the template never uses the column{'s' if len(result.unused_columns) > 1 else ''} "
             f"{', '.join(sorted(result.unused_columns))} of {data.name}")
    if not serve_page:
        out.print(str(result.page))
        return
    try:
        httpd, base = serve(result.page.parent, port)
    except OSError as e:
        fail(f"cannot listen on 127.0.0.1:{port}: {e.strerror or e}")
    out.print(f"{base}/{result.page.name}")
    err.print("Serving the preview; press Ctrl-C to stop.")
    try:
        threading.Event().wait()  # the server runs in its own thread
    except KeyboardInterrupt:
        pass
    finally:
        httpd.shutdown()
        httpd.server_close()


def register(app: typer.Typer) -> None:
    """Add these commands to the `hitkit` app."""
    app.command("new")(new)
    app.add_typer(import_app, name="import")
    app.command("preview")(preview)
