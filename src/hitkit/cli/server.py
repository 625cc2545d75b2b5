"""`hitkit server ...`: initialise, run and administer a hitkit marketplace server."""

from __future__ import annotations

import ipaddress
import json
import os
import socket
import sys
import time
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from hitkit.mturk.fees import CurrencyError, format_cents, parse_currency
from hitkit.server.aws_profile import PROFILE, write_profile
from hitkit.server.config import DEFAULT_PORT, ServerConfig, load_config
from hitkit.server.domain import accounts, staff_accounts, web_accounts
from hitkit.server.domain.ledger import balances, deposit
from hitkit.server.store import db
from hitkit.server.store.tables import access_keys, admins, requesters, staff_logins, workers

app = typer.Typer(no_args_is_help=True, help="Run and administer a hitkit marketplace server.")
requester_app = typer.Typer(no_args_is_help=True, help="Requester accounts.")
worker_app = typer.Typer(no_args_is_help=True, help="Worker accounts.")
funds_app = typer.Typer(no_args_is_help=True, help="Requester funds.")
admin_app = typer.Typer(no_args_is_help=True, help="Admin accounts (the admin API's tokens and /admin/ logins).")
db_app = typer.Typer(no_args_is_help=True, help="Database schema.")
app.add_typer(requester_app, name="requester")
app.add_typer(worker_app, name="worker")
app.add_typer(funds_app, name="funds")
app.add_typer(admin_app, name="admin")
app.add_typer(db_app, name="db")

console = Console(stderr=True)
DataDir = typer.Option(None, "--data-dir", help="Server data directory (default: $HITKIT_DATA_DIR or ./.hitkit-server).")


def fail(message: str) -> None:
    console.print(f"[red]error:[/red] {message}")
    raise typer.Exit(1)


def _engine(cfg: ServerConfig, *, must_exist: bool = True):  # type: ignore[no-untyped-def]
    engine = db.make_engine(cfg.database_url)
    try:
        revision = db.current_revision(engine)
    except OperationalError as e:
        fail(f"Cannot reach the database at {engine.url.render_as_string(hide_password=True)}: {str(e.orig).strip()}")
    if must_exist and revision is None:
        fail(f"No hitkit server is initialised at {cfg.data_dir}: run `hitkit server init --data-dir {cfg.data_dir}`.")
    return engine


def _print_json(data: dict) -> None:
    typer.echo(json.dumps(data, indent=2))


@app.command()
def init(
    data_dir: Optional[Path] = DataDir,
    json_out: bool = typer.Option(False, "--json", help="Print the credentials as JSON."),
    port: int = typer.Option(DEFAULT_PORT, help="Port the server will listen on (written into the AWS profile)."),
    fee_schedule: str = typer.Option("mturk", help="Fee schedule: mturk (MTurk's 2015 fees) or none."),
    no_profile: bool = typer.Option(False, "--no-profile", help="Do not write the hitkit-local AWS profile."),
) -> None:
    """Create the data directory, database, an admin and a first requester; write the hitkit-local AWS profile."""
    cfg = load_config(data_dir)
    if fee_schedule not in ("mturk", "none"):
        fail(f"--fee-schedule must be mturk or none, not {fee_schedule!r}.")
    fresh = not cfg.settings_file.exists()
    if fresh:
        cfg.fee_schedule = fee_schedule
        cfg.extra["port"] = port
        cfg.save()
    engine = _engine(cfg, must_exist=False)
    db.upgrade(engine)
    now = time.time()
    with engine.begin() as conn:
        first = conn.execute(
            select(requesters.c.id, requesters.c.name, access_keys.c.access_key_id, access_keys.c.secret)
            .join(access_keys, access_keys.c.requester_id == requesters.c.id)
            .where(access_keys.c.active.is_(True))
            .order_by(requesters.c.created_at)
        ).first()
        if first is None:
            requester_id, creds = accounts.create_requester(conn, "default", now, cfg.starting_balance_cents)
            name, key, secret = "default", creds.aws_access_key_id, creds.aws_secret_access_key
        else:
            requester_id, name, key, secret = first
        _, admin_token = accounts.create_admin(conn, f"admin-{int(now)}", now)
    engine.dispose()
    endpoint = f"http://127.0.0.1:{port}"
    files = None if no_profile else write_profile(key, secret, endpoint)
    out = {
        "requester": {"name": name, "requester_id": requester_id, "aws_access_key_id": key, "aws_secret_access_key": secret},
        "admin": {"token": admin_token},
        "data_dir": str(cfg.data_dir),
        "database_url": cfg.database_url if not cfg.database_url.startswith("postgresql") else "(from HITKIT_DATABASE_URL)",
        "endpoint_url": endpoint,
        "aws_profile": None if no_profile else PROFILE,
        "created": fresh,
    }
    if json_out:
        _print_json(out)
        return
    console.print(f"[green]hitkit server {'initialised' if fresh else 'already initialised'}[/green] in {cfg.data_dir}")
    console.print(f"requester [bold]{name}[/bold]: access key {key}")
    console.print(f"admin token: {admin_token}  (shown once)")
    if files:
        console.print(f"AWS profile [bold]{PROFILE}[/bold] written to {files[0]} and {files[1]}")
    console.print(f"next: [bold]hitkit server run --data-dir {cfg.data_dir}[/bold]")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@app.command()
def run(
    data_dir: Optional[Path] = DataDir,
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(DEFAULT_PORT, help="Port (0 picks a free one)."),
    allow_clock_control: bool = typer.Option(
        False, "--allow-clock-control", help="Expose POST /api/admin/v1/clock for tests (loopback hosts only)."
    ),
    log_level: str = typer.Option("warning", help="uvicorn log level."),
    workers: int = typer.Option(
        1, "--workers", min=1, max=64,
        help="Server processes sharing the port; a dead one is restarted. Use PostgreSQL for more than one "
             "(HITKIT_DATABASE_URL) and Redis for live tasks across processes (HITKIT_REDIS_URL).",
    ),
) -> None:
    """Serve the MTurk API, the worker API and admin routes until SIGTERM/SIGINT."""
    import uvicorn

    from hitkit.server.app import NotInitialized, create_app

    _QuietExitServer = _quiet_exit_server()

    if allow_clock_control and not _is_loopback(host):
        fail("--allow-clock-control is refused unless --host is a loopback address (127.0.0.1, ::1, localhost).")
    cfg = load_config(data_dir)
    cfg.allow_clock_control = allow_clock_control
    try:
        application = create_app(cfg)
    except NotInitialized as e:
        fail(str(e))
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on sockets whose protocol says TCP; without it every
    # response on a kept-alive connection waits ~40 ms for the client's delayed ACK (Nagle).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as e:
        fail(f"cannot listen on {host}:{port}: {e.strerror}")
    sock.listen(2048)
    bound = sock.getsockname()[1]
    shown = f"[{host}]" if family == socket.AF_INET6 else host
    typer.echo(f"hitkit server listening on http://{shown}:{bound}", err=False)
    if workers > 1:
        _run_processes(cfg, sock, workers, log_level, application)
    else:
        server = _QuietExitServer(uvicorn.Config(application, log_level=log_level, access_log=False, lifespan="on"))
        server.run(sockets=[sock])
    console.print("hitkit server stopped")


def _run_processes(cfg, sock: socket.socket, workers: int, log_level: str, checked) -> None:  # type: ignore[no-untyped-def]
    """`workers` processes on `sock`, each building the app from the environment (server/processes.py)."""
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    from hitkit.server.processes import CLOCK_CONTROL_ENV, DATA_DIR_ENV

    if cfg.database_url.startswith("sqlite"):
        console.print("[yellow]note:[/yellow] several processes on SQLite take turns for every write; use PostgreSQL "
                      "(HITKIT_DATABASE_URL) to gain from them (docs/deployment.md)")
    os.environ[DATA_DIR_ENV] = str(cfg.data_dir)
    os.environ[CLOCK_CONTROL_ENV] = "1" if cfg.allow_clock_control else "0"
    if cfg.database_url.startswith("postgresql"):
        os.environ.setdefault("HITKIT_DATABASE_URL", cfg.database_url)
    config = uvicorn.Config("hitkit.server.processes:app_from_environment", factory=True, workers=workers,
                            log_level=log_level, access_log=False, lifespan="on")
    Multiprocess(config, sockets=[sock]).run()


def _quiet_exit_server():  # type: ignore[no-untyped-def]
    import contextlib
    import signal as signals

    import uvicorn

    class QuietExitServer(uvicorn.Server):
        """uvicorn re-raises SIGTERM after a graceful shutdown (exit status -15); a clean stop should exit 0."""

        @contextlib.contextmanager
        def capture_signals(self):  # type: ignore[no-untyped-def]
            previous = {sig: signals.signal(sig, self.handle_exit) for sig in (signals.SIGINT, signals.SIGTERM)}
            try:
                yield
            finally:
                for sig, handler in previous.items():
                    signals.signal(sig, handler)

    return QuietExitServer


@requester_app.command("create")
def requester_create(
    name: str = typer.Argument(..., help="The requester's name (unique)."),
    data_dir: Optional[Path] = DataDir,
    json_out: bool = typer.Option(False, "--json", help="Print the credentials as JSON."),
    username: Optional[str] = typer.Option(None, help="Also give the requester a console login (/console/) with this username."),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="Read the console password from stdin (with --username)."),
) -> None:
    """Create a requester with API credentials and the starting balance (and, with --username, a console login)."""
    cfg = load_config(data_dir)
    engine = _engine(cfg)
    password_hash = _password_hash(username, password_stdin)
    try:
        with engine.begin() as conn:
            requester_id, creds = accounts.create_requester(conn, name, time.time(), cfg.starting_balance_cents)
            if username:
                staff_accounts.set_staff_login(conn, "requester", requester_id, username, password_hash, time.time())
    except accounts.AccountError as e:
        fail(str(e))
    out = {"requester_id": requester_id, "name": name, "aws_access_key_id": creds.aws_access_key_id,
           "aws_secret_access_key": creds.aws_secret_access_key, "username": username.lower() if username else None}
    if json_out:
        _print_json(out)
    else:
        console.print(f"requester [bold]{name}[/bold] ({requester_id})")
        console.print(f"aws_access_key_id = {creds.aws_access_key_id}\naws_secret_access_key = {creds.aws_secret_access_key}")
        if username:
            console.print(f"console login: {username.lower()} at /console/login")


@requester_app.command("password")
def requester_password(
    requester: str = typer.Argument(..., help="Requester name, id or access key id."),
    username: str = typer.Option(..., help="The username to sign in to the console with."),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="Read the password from stdin."),
    data_dir: Optional[Path] = DataDir,
) -> None:
    """Set (or reset) a requester's console login; its other console sessions end."""
    engine = _engine(load_config(data_dir))
    password_hash = _password_hash(username, password_stdin)
    try:
        with engine.begin() as conn:
            row = accounts.find_requester(conn, requester)
            stored = staff_accounts.set_staff_login(conn, "requester", row.id, username, password_hash, time.time())
    except accounts.AccountError as e:
        fail(str(e))
    console.print(f"requester {row.name} signs in to /console/ as [bold]{stored}[/bold]")


@admin_app.command("create")
def admin_create(
    name: str = typer.Argument(..., help="The admin's name (for your records)."),
    username: Optional[str] = typer.Option(None, help="A login for /admin/ with this username."),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="Read the password from stdin (with --username)."),
    data_dir: Optional[Path] = DataDir,
    json_out: bool = typer.Option(False, "--json", help="Print the admin id and token as JSON."),
) -> None:
    """Create an admin with a bearer token for the admin API (and, with --username, a login for /admin/)."""
    engine = _engine(load_config(data_dir))
    password_hash = _password_hash(username, password_stdin)
    try:
        with engine.begin() as conn:
            if conn.execute(select(admins.c.id).where(admins.c.name == name)).first():
                fail(f"An admin named {name!r} already exists.")
            admin_id, token = accounts.create_admin(conn, name, time.time())
            if username:
                staff_accounts.set_staff_login(conn, "admin", admin_id, username, password_hash, time.time())
    except accounts.AccountError as e:
        fail(str(e))
    if json_out:
        _print_json({"admin_id": admin_id, "name": name, "token": token, "username": username.lower() if username else None})
    else:
        console.print(f"admin [bold]{name}[/bold] ({admin_id})\ntoken: {token}  (shown once)")
        if username:
            console.print(f"admin login: {username.lower()} at /admin/login")


@admin_app.command("password")
def admin_password(
    admin: str = typer.Argument(..., help="The admin's name or id."),
    username: str = typer.Option(..., help="The username to sign in to /admin/ with."),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="Read the password from stdin."),
    data_dir: Optional[Path] = DataDir,
) -> None:
    """Set (or reset) an admin's web login; its other admin sessions end."""
    engine = _engine(load_config(data_dir))
    password_hash = _password_hash(username, password_stdin)
    try:
        with engine.begin() as conn:
            row = conn.execute(select(admins).where((admins.c.name == admin) | (admins.c.id == admin))).first()
            if row is None:
                fail(f"No admin is named {admin!r} (give its name or id; `hitkit server admin list` shows them).")
            stored = staff_accounts.set_staff_login(conn, "admin", row.id, username, password_hash, time.time())
    except accounts.AccountError as e:
        fail(str(e))
    console.print(f"admin {row.name} signs in to /admin/ as [bold]{stored}[/bold]")


@admin_app.command("list")
def admin_list(
    data_dir: Optional[Path] = DataDir, json_out: bool = typer.Option(False, "--json", help="Print the list as JSON."),
) -> None:
    """The admins, with their web login usernames."""
    engine = _engine(load_config(data_dir))
    with engine.connect() as conn:
        rows = conn.execute(
            select(admins.c.id, admins.c.name, staff_logins.c.username)
            .select_from(admins.outerjoin(staff_logins, (staff_logins.c.subject_id == admins.c.id) & (staff_logins.c.role == "admin")))
            .order_by(admins.c.created_at)
        ).all()
    if json_out:
        _print_json({"admins": [{"admin_id": r.id, "name": r.name, "username": r.username} for r in rows]})
        return
    for r in rows:
        typer.echo(f"{r.id}  {r.name}  {r.username or '(no web login)'}")


@funds_app.command("add")
def funds_add(
    requester: str = typer.Argument(..., help="Requester name, id or access key id."),
    amount: str = typer.Argument(..., help="Dollars, e.g. 250 or 99.50."),
    data_dir: Optional[Path] = DataDir,
) -> None:
    """Top up a requester's balance."""
    try:
        cents = parse_currency(amount)
    except CurrencyError:
        fail(f"AMOUNT must be dollars with at most two decimals (e.g. 250 or 99.50), not {amount!r}.")
    if cents <= 0:
        fail("AMOUNT must be more than 0.")
    engine = _engine(load_config(data_dir))
    try:
        with engine.begin() as conn:
            row = accounts.find_requester(conn, requester)
            deposit(conn, row.id, cents, time.time(), memo="funds add")
            available, held = balances(conn, row.id)
    except accounts.AccountError as e:
        fail(str(e))
    console.print(f"added {format_cents(cents)} to {row.name}: available {format_cents(available)}, on hold {format_cents(held)}")


@worker_app.command("create")
def worker_create(
    name: str = typer.Argument(..., help="The worker's name (for your records; not unique)."),
    data_dir: Optional[Path] = DataDir,
    country: Optional[str] = typer.Option("US", help="ISO 3166 country (Worker_Locale)."),
    subdivision: Optional[str] = typer.Option(None, help="ISO 3166-2 subdivision, e.g. CA."),
    adult: bool = typer.Option(False, "--adult", help="Worker_Adult = 1."),
    masters: bool = typer.Option(False, "--masters", help="Holds the Masters qualification."),
    json_out: bool = typer.Option(False, "--json", help="Print the WorkerId and token as JSON."),
    username: Optional[str] = typer.Option(None, help="Also give the worker a web login with this username."),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="Read the web password from stdin (with --username)."),
) -> None:
    """Create a worker and its API token (and, with --username, a login for the worker web site)."""
    engine = _engine(load_config(data_dir))
    password_hash = _password_hash(username, password_stdin)
    try:
        with engine.begin() as conn:
            worker_id, token = accounts.create_worker(
                conn, name, time.time(), country=country, subdivision=subdivision, adult=adult, masters=masters
            )
            if username:
                web_accounts.set_worker_password(conn, worker_id, username, password_hash, time.time())
    except accounts.AccountError as e:
        fail(str(e))
    if json_out:
        _print_json({"WorkerId": worker_id, "token": token, "name": name, "username": username})
    else:
        console.print(f"worker [bold]{name}[/bold]: WorkerId {worker_id}\ntoken: {token}  (shown once)")


def _password_hash(username: Optional[str], password_stdin: bool) -> str:
    if not username:
        if password_stdin:
            fail("--password-stdin needs --username.")
        return ""
    password = sys.stdin.readline().rstrip("\r\n") if password_stdin else typer.prompt(
        "Password", hide_input=True, confirmation_prompt=True)
    try:
        return web_accounts.hash_password(password)
    except accounts.AccountError as e:
        fail(str(e))
    return ""


@worker_app.command("password")
def worker_password(
    worker: str = typer.Argument(..., help="WorkerId."),
    username: str = typer.Option(..., help="The username to sign in with."),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="Read the password from stdin."),
    data_dir: Optional[Path] = DataDir,
) -> None:
    """Set (or reset) a worker's web login; their other browser sessions end."""
    engine = _engine(load_config(data_dir))
    password_hash = _password_hash(username, password_stdin)
    try:
        with engine.begin() as conn:
            if conn.execute(select(workers.c.id).where(workers.c.id == worker)).first() is None:
                fail(f"No worker has the WorkerId {worker!r}.")
            web_accounts.set_worker_password(conn, worker, username, password_hash, time.time())
    except accounts.AccountError as e:
        fail(str(e))
    console.print(f"worker {worker} signs in as [bold]{username.lower()}[/bold]")


def _site_url(cfg: ServerConfig, base_url: Optional[str]) -> str:
    return (base_url or cfg.extra.get("site_url") or f"http://127.0.0.1:{cfg.extra.get('port', DEFAULT_PORT)}").rstrip("/")


BaseUrl = typer.Option(None, "--base-url", help="The server's address as workers reach it (default http://127.0.0.1:PORT).")


@app.command()
def invite(
    data_dir: Optional[Path] = DataDir,
    requester: Optional[str] = typer.Option(None, help="Make the invitation as this requester (name or id) rather than the admin."),
    uses: int = typer.Option(1, help="How many people may join with the link."),
    expires_days: float = typer.Option(7, "--expires-days", help="Days until the link expires (0: never)."),
    note: Optional[str] = typer.Option(None, help="A note for your records (who the link is for)."),
    base_url: Optional[str] = BaseUrl,
    json_out: bool = typer.Option(False, "--json", help="Print the link and its details as JSON."),
) -> None:
    """Make an invitation link for new workers (the code is shown once)."""
    cfg = load_config(data_dir)
    engine = _engine(cfg)
    now = time.time()
    try:
        with engine.begin() as conn:
            creator = accounts.find_requester(conn, requester).id if requester else "admin"
            code = web_accounts.create_invitation(
                conn, creator, now, max_uses=uses, expires_in=expires_days * 86400 if expires_days > 0 else None, note=note)
    except accounts.AccountError as e:
        fail(str(e))
    url = f"{_site_url(cfg, base_url)}/join/{code}"
    if json_out:
        _print_json({"url": url, "code": code, "uses": uses, "expires_days": expires_days or None})
    else:
        typer.echo(url)


@app.command("participant-link")
def participant_link(
    hit_type: str = typer.Argument(..., help="The HIT type (HITTypeId) participants will do."),
    requester: str = typer.Option(..., help="The requester (name or id) that owns the HIT type."),
    label: Optional[str] = typer.Option(None, help="The study's name, shown on the welcome page."),
    completion_code: Optional[str] = typer.Option(None, "--completion-code", help="A code shown after submitting (or 'auto')."),
    data_dir: Optional[Path] = DataDir,
    base_url: Optional[str] = BaseUrl,
    json_out: bool = typer.Option(False, "--json", help="Print the link and its details as JSON."),
) -> None:
    """Make a recruitment link for a study: whoever opens it does the HIT type without an account."""
    cfg = load_config(data_dir)
    engine = _engine(cfg)
    try:
        with engine.begin() as conn:
            owner = accounts.find_requester(conn, requester)
            code = web_accounts.create_participant_link(
                conn, owner.id, hit_type, time.time(), label=label, completion_code=completion_code)
            link = web_accounts.active_link(conn, code)
    except accounts.AccountError as e:
        fail(str(e))
    url = f"{_site_url(cfg, base_url)}/p/{code}"
    if json_out:
        _print_json({"url": url, "code": code, "hit_type_id": hit_type, "completion_code": link.completion_code})
    else:
        typer.echo(url)
        if link.completion_code:
            console.print(f"completion code: {link.completion_code}")


@app.command("open-signup")
def open_signup(
    state: str = typer.Argument(..., help="on or off"),
    data_dir: Optional[Path] = DataDir,
) -> None:
    """Let anyone create a worker account at /signup (on), or only invited people (off, the default)."""
    if state not in ("on", "off"):
        fail(f"STATE must be on or off, not {state!r}.")
    engine = _engine(load_config(data_dir))
    with engine.begin() as conn:
        web_accounts.put_setting(conn, web_accounts.OPEN_SIGNUP_KEY, "true" if state == "on" else "false")
    console.print(f"open sign-up is {state}")


@db_app.command("upgrade")
def db_upgrade(data_dir: Optional[Path] = DataDir) -> None:
    """Apply pending schema migrations."""
    engine = _engine(load_config(data_dir), must_exist=False)
    db.upgrade(engine)
    console.print(f"database at revision {db.current_revision(engine)}")


@db_app.command("check")
def db_check(data_dir: Optional[Path] = DataDir) -> None:
    """Exit 0 when the schema is current, 1 (with what to do) when not."""
    engine = _engine(load_config(data_dir), must_exist=False)
    current, head = db.current_revision(engine), db.head_revision()
    if current != head:
        fail(f"database at revision {current}, hitkit needs {head}: run `hitkit server db upgrade`.")
    console.print(f"database schema is current ({head})")
