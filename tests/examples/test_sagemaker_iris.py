"""examples/sagemaker-iris: the iris notebook as a script, run as its README says, with a simulated crowd."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "sagemaker-iris"


@pytest.mark.slow
def test_the_iris_loop_runs_against_a_server(server, requester, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(HITKIT_URL=server.url, HITKIT_ADMIN_TOKEN=server.admin_token, AWS_ACCESS_KEY_ID=requester.access_key,
               AWS_SECRET_ACCESS_KEY=requester.secret, AWS_CONFIG_FILE=str(tmp_path / "none"),
               AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"), PATH=f"{Path(sys.executable).parent}:{env['PATH']}")
    proc = subprocess.run(["bash", str(EXAMPLE / "run.sh")], env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    assert "launched 150 HITs" in out and "150 items: 150 done" in out, out
    accuracy = float(out.split("label accuracy ")[1].split("%")[0])
    assert accuracy >= 90, out
    assert "model in the loop: 10 checked" in out and "cost with fees $" in out
