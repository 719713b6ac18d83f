"""``make demo``: start the SCADA headless on a simulated house and attach the console to it.

The runtime runs as its own process (exactly as on a Pi), on a private socket in a temporary
folder, logging to ``demo.log`` there. The console is gwtui; the runtime is stopped when the
console exits.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

START_TIMEOUT_S = 20.0


def _bin(name: str) -> str:
    local = Path(sys.executable).parent / name
    return str(local) if local.exists() else (shutil.which(name) or name)


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    workdir = Path(tempfile.mkdtemp(prefix="gwdemo-"))
    sock = workdir / "scada.sock"
    log_path = workdir / "demo.log"
    serve = [
        _bin("scada"),
        "serve",
        "--sim",
        "--socket",
        str(sock),
        "--data-dir",
        str(workdir / "data"),
        *args,
    ]
    print(f"starting the SCADA on a simulated house (log: {log_path})", flush=True)
    with log_path.open("w") as log:
        server = subprocess.Popen(
            serve, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not sock.exists():
            if server.poll() is not None:
                print(
                    f"the SCADA stopped at start (exit {server.returncode}):\n"
                    f"{log_path.read_text()}",
                    file=sys.stderr,
                )
                return 1
            if time.monotonic() > deadline:
                print(
                    f"the SCADA did not open {sock} within {START_TIMEOUT_S:.0f} s; see {log_path}",
                    file=sys.stderr,
                )
                return 1
            time.sleep(0.05)
        console = [
            _bin("gwtui"),
            "--socket",
            str(sock),
            "--operator",
            os.environ.get("USER", "installer"),
        ]
        return subprocess.call(console)
    except KeyboardInterrupt:
        return 130
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
