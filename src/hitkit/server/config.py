"""Server configuration: where the data lives, which database, which fee schedule.

Settings come from the data directory's `server.json` (written by `hitkit server init`) and the
environment (`HITKIT_DATA_DIR`, `HITKIT_DATABASE_URL`), the environment winning.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

DEFAULT_DATA_DIR = ".hitkit-server"
DEFAULT_PORT = 8642


def resolve_data_dir(data_dir: str | os.PathLike | None = None) -> Path:
    """--data-dir, else HITKIT_DATA_DIR, else ./.hitkit-server."""
    chosen = data_dir or os.environ.get("HITKIT_DATA_DIR") or DEFAULT_DATA_DIR
    return Path(chosen).expanduser().resolve()


@dataclass
class ServerConfig:
    data_dir: Path
    database_url: str = ""
    fee_schedule: str = "mturk"
    environment: str = "sandbox"  # which Masters id / turkSubmitTo flavour the server imitates
    starting_balance_cents: int = 1_000_000
    sweep_interval: float = 1.0
    allow_clock_control: bool = False
    extra: dict = field(default_factory=dict)

    @property
    def settings_file(self) -> Path:
        return self.data_dir / "server.json"

    def save(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        data = asdict(self)
        data.pop("data_dir")
        data.pop("allow_clock_control")
        if os.environ.get("HITKIT_DATABASE_URL") == self.database_url:
            data["database_url"] = ""  # do not pin an environment-provided URL into the file
        self.settings_file.write_text(json.dumps(data, indent=2) + "\n")


def load_config(data_dir: str | os.PathLike | None = None) -> ServerConfig:
    """The configuration for a data directory (which need not exist yet)."""
    root = resolve_data_dir(data_dir)
    cfg = ServerConfig(data_dir=root)
    if cfg.settings_file.exists():
        stored = json.loads(cfg.settings_file.read_text())
        for key, value in stored.items():
            if hasattr(cfg, key) and key != "data_dir":
                setattr(cfg, key, value)
    env_url = os.environ.get("HITKIT_DATABASE_URL")
    if env_url:
        cfg.database_url = env_url
    if not cfg.database_url:
        cfg.database_url = f"sqlite:///{root / 'hitkit.db'}"
    return cfg
