"""Writes the `hitkit-local` AWS profile (credentials + endpoint) so that
`boto3.Session(profile_name="hitkit-local").client("mturk")` reaches the local server."""

from __future__ import annotations

import configparser
import os
from pathlib import Path

PROFILE = "hitkit-local"


def _paths() -> tuple[Path, Path]:
    creds = Path(os.environ.get("AWS_SHARED_CREDENTIALS_FILE", "~/.aws/credentials")).expanduser()
    config = Path(os.environ.get("AWS_CONFIG_FILE", "~/.aws/config")).expanduser()
    return creds, config


def _update(path: Path, section: str, values: dict[str, str]) -> None:
    parser = configparser.RawConfigParser()
    if path.exists():
        parser.read(path)
    if not parser.has_section(section):
        parser.add_section(section)
    for key, value in values.items():
        parser.set(section, key, value)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as fh:
        parser.write(fh)
    os.chmod(path, 0o600)


def write_profile(access_key_id: str, secret: str, endpoint_url: str, profile: str = PROFILE) -> tuple[Path, Path]:
    """Add or replace the profile in the user's AWS credentials and config files; returns their paths."""
    creds, config = _paths()
    _update(creds, profile, {"aws_access_key_id": access_key_id, "aws_secret_access_key": secret})
    _update(config, f"profile {profile}", {"region": "us-east-1", "endpoint_url": endpoint_url, "output": "json"})
    return creds, config
