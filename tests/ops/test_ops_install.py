"""The installer: the unit it renders, and a whole install / uninstall under a temporary root."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest
from typer.testing import CliRunner

from scada.cli.main import app
from scada.install import InstallOptions, install_plan, run
from scada.install_steps import RECORD_DIR, InstallError, Run, SystemRunner, perform
from scada.service_unit import DEFAULT_CONFIG, UnitOptions, parse_unit, render_unit
from scada.settings import load_settings
from tests.conftest import ROOT
from tests.ops.ops_support import env_without_scada, write

OPTS = InstallOptions(source=ROOT, python=Path("/usr/bin/python3"))


def install(root: Path, opts: InstallOptions = OPTS) -> list[str]:
    out: list[str] = []
    assert run("install", opts, root=root, out=out.append) == 0
    return out


def mode(path: Path) -> int:
    return path.stat().st_mode & 0o7777


def owners(root: Path) -> dict[str, str]:
    """``path -> "owner:group mode"`` as the installer recorded them."""
    found = {}
    for line in (root / RECORD_DIR / "owners").read_text().splitlines():
        who, perm, path = line.split(" ")
        found[path] = f"{who} {perm}"
    return found


# ------------------------------------------------------------------------ the unit


def test_unit_has_what_the_service_needs() -> None:
    unit = parse_unit(render_unit())
    s = unit["Service"]
    expected = {
        "Type": ["notify"],
        "NotifyAccess": ["main"],
        "WatchdogSec": ["30"],
        "Restart": ["always"],
        "RestartSec": ["5"],
        "User": ["gwscada"],
        "Group": ["gwscada"],
        "SupplementaryGroups": ["i2c gpio dialout"],
        "RuntimeDirectory": ["gwscada"],
        "RuntimeDirectoryMode": ["0750"],
        "StateDirectory": ["gwscada"],
        "ConfigurationDirectory": ["gwscada"],
        "ProtectSystem": ["strict"],
        "ProtectHome": ["yes"],
        "PrivateTmp": ["yes"],
        "NoNewPrivileges": ["yes"],
        "PrivateDevices": ["no"],
        "ReadWritePaths": ["/var/lib/gwscada"],
        "ExecStart": ["/opt/gwscada/venv/bin/scada serve"],
        "CapabilityBoundingSet": [""],
    }
    for key, value in expected.items():
        assert s[key] == value, key
    assert unit["Install"]["WantedBy"] == ["multi-user.target"]
    assert unit["Unit"]["StartLimitIntervalSec"] == ["0"]  # never give up restarting


def test_unit_leaves_out_what_would_lock_the_devices_or_hold_up_boot() -> None:
    unit = parse_unit(render_unit())
    # ProtectClock= implies DeviceAllow=char-rtc (Debian bookworm's systemd), which closes
    # every other device; DeviceAllow= classes are resolved once, at start.
    for key in ("ProtectClock", "DeviceAllow", "DevicePolicy"):
        assert key not in unit["Service"], key
    # no network at boot must not delay local control
    assert "network-online.target" not in render_unit()
    assert unit["Unit"]["After"] == ["network.target"]


def test_unit_follows_prefix_and_user() -> None:
    opts = UnitOptions(prefix=Path("/srv/gw"), user="heat", group="heat", watchdog_s=10)
    s = parse_unit(render_unit(opts))["Service"]
    assert s["ExecStart"] == ["/srv/gw/venv/bin/scada serve"]
    assert (s["User"], s["Group"], s["WatchdogSec"]) == (["heat"], ["heat"], ["10"])


def test_default_config_loads_and_sets_nothing(tmp_path: Path) -> None:
    write(tmp_path / "scada.toml", DEFAULT_CONFIG)
    write(tmp_path / "secrets.toml", "")
    env = env_without_scada(
        {
            "SCADA_CONFIG": str(tmp_path / "scada.toml"),
            "SCADA_SECRETS": str(tmp_path / "secrets.toml"),
        }
    )
    loaded = load_settings({}, env)
    assert all(o.kind == "default" for o in loaded.origins.values())
    assert loaded.config_exists


# -------------------------------------------------------------- under a temp root


def test_install_under_a_root_writes_every_file_with_its_mode(tmp_path: Path) -> None:
    out = install(tmp_path)
    unit = tmp_path / "etc/systemd/system/gwscada.service"
    assert unit.read_text() == render_unit()
    assert mode(unit) == 0o644
    assert (tmp_path / "etc/gwscada/scada.toml").read_text() == DEFAULT_CONFIG
    assert mode(tmp_path / "etc/gwscada/scada.toml") == 0o644
    assert mode(tmp_path / "etc/gwscada/secrets.toml") == 0o640
    assert mode(tmp_path / "etc/gwscada") == 0o755
    assert mode(tmp_path / "var/lib/gwscada") == 0o750
    assert mode(tmp_path / "opt/gwscada") == 0o755
    src = tmp_path / "opt/gwscada/src"
    assert (src / "pyproject.toml").is_file()
    assert (src / "scada/serve.py").is_file()
    assert not list(src.rglob("__pycache__"))
    houses = tmp_path / "opt/gwscada/venv/share/gwscada/input_data/houses"
    assert (houses / "w.isone.nh.orange.1.json").is_file()
    for cmd in ("scada", "gwtui"):
        link = tmp_path / "usr/local/bin" / cmd
        assert link.is_symlink()
        assert link.readlink() == Path("/opt/gwscada/venv/bin") / cmd
    assert owners(tmp_path) == {
        "/etc/gwscada": "root:gwscada 0755",
        "/etc/gwscada/scada.toml": "root:gwscada 0644",
        "/etc/gwscada/secrets.toml": "root:gwscada 0640",
        "/etc/systemd/system/gwscada.service": "root:root 0644",
        "/opt/gwscada": "root:root 0755",
        "/var/lib/gwscada": "gwscada:gwscada 0750",
    }
    assert out[-1].startswith("next: edit /etc/gwscada/scada.toml")


def test_install_under_a_root_records_the_commands_it_did_not_run(tmp_path: Path) -> None:
    install(tmp_path)
    script = (tmp_path / RECORD_DIR / "install.sh").read_text().splitlines()
    commands = [line for line in script if line and not line.startswith(("#", "set "))]
    assert commands == [
        "groupadd --system i2c",
        "groupadd --system gpio",
        "groupadd --system dialout",
        "groupadd --system gwscada",
        (
            "useradd --system --gid gwscada --home-dir /var/lib/gwscada --no-create-home "
            "--shell /usr/sbin/nologin --comment 'GridWorks SpaceHeat SCADA' gwscada"
        ),
        "usermod --append --groups i2c,gpio,dialout gwscada",
        "/usr/bin/python3 -m venv /opt/gwscada/venv",
        "/opt/gwscada/venv/bin/python -m pip install --quiet --upgrade pip",
        "/opt/gwscada/venv/bin/python -m pip install --quiet /opt/gwscada/src",
        "systemctl daemon-reload",
        "systemctl try-restart gwscada || true",
    ]
    # the script is valid shell
    subprocess.run(["sh", "-n", str(tmp_path / RECORD_DIR / "install.sh")], check=True)


def test_existing_users_and_groups_are_not_made_again(tmp_path: Path) -> None:
    write(tmp_path / "etc/group", "i2c:x:998:\ngpio:x:997:\ndialout:x:20:\ngwscada:x:990:\n")
    write(tmp_path / "etc/passwd", "gwscada:x:990:990::/var/lib/gwscada:/usr/sbin/nologin\n")
    install(tmp_path)
    script = (tmp_path / RECORD_DIR / "install.sh").read_text()
    assert "groupadd" not in script
    assert "useradd" not in script
    assert "usermod --append --groups i2c,gpio,dialout gwscada" in script


def test_reinstall_keeps_the_settings_and_fixes_the_secrets_mode(tmp_path: Path) -> None:
    install(tmp_path)
    config = tmp_path / "etc/gwscada/scada.toml"
    secrets = tmp_path / "etc/gwscada/secrets.toml"
    config.write_text('house = "w.isone.nh.orange.1"\n')
    secrets.write_text('[mqtt]\npassword = "pw"\n')
    secrets.chmod(0o666)
    (tmp_path / "var/lib/gwscada/store.db").write_text("data")
    stale = tmp_path / "opt/gwscada/src/scada/stale.py"
    stale.write_text("")
    out = install(tmp_path)
    assert config.read_text() == 'house = "w.isone.nh.orange.1"\n'
    assert secrets.read_text() == '[mqtt]\npassword = "pw"\n'
    assert mode(secrets) == 0o640
    assert (tmp_path / "var/lib/gwscada/store.db").read_text() == "data"
    assert not stale.exists()  # the source copy is replaced whole
    assert any(line.startswith("keep   /etc/gwscada/scada.toml") for line in out)


def test_uninstall_removes_the_service_and_keeps_data_and_settings(tmp_path: Path) -> None:
    install(tmp_path)
    (tmp_path / "var/lib/gwscada/store.db").write_text("data")
    (tmp_path / "usr/local/bin/gwtui").unlink()
    foreign = write(tmp_path / "usr/local/bin/gwtui", "#!/bin/sh\n", 0o755)  # not our link
    out: list[str] = []
    assert run("uninstall", OPTS, root=tmp_path, out=out.append) == 0
    assert not (tmp_path / "etc/systemd/system/gwscada.service").exists()
    assert not (tmp_path / "opt/gwscada").exists()
    assert not (tmp_path / "usr/local/bin/scada").is_symlink()
    assert foreign.read_text() == "#!/bin/sh\n"  # someone else's command stays
    assert (tmp_path / "var/lib/gwscada/store.db").read_text() == "data"
    assert (tmp_path / "etc/gwscada/scada.toml").exists()
    assert (tmp_path / "etc/gwscada/secrets.toml").exists()
    script = (tmp_path / RECORD_DIR / "uninstall.sh").read_text()
    assert "systemctl disable --now gwscada || true" in script
    assert "userdel" not in script
    assert out[-1].startswith("kept: /var/lib/gwscada (the data), /etc/gwscada")


def test_dry_run_changes_nothing(tmp_path: Path) -> None:
    out: list[str] = []
    assert run("install", OPTS, root=tmp_path, dry_run=True, out=out.append) == 0
    assert list(tmp_path.iterdir()) == []
    assert "run    systemctl daemon-reload    # systemd reads the new unit" in out
    assert "write  /etc/gwscada/secrets.toml (0640 root:gwscada) if absent" in out


def test_without_root_or_sudo_it_refuses(monkeypatch: pytest.MonkeyPatch) -> None:
    def never(*_a: object) -> None:
        raise AssertionError("the test must not touch this system")

    monkeypatch.setattr("scada.install.SystemRunner", never)
    monkeypatch.setattr("scada.install.os.geteuid", lambda: 1000)
    with pytest.raises(InstallError, match="run it with sudo"):
        run("install", OPTS, out=lambda _: None)


def test_system_runner_runs_commands_through_its_executor() -> None:
    ran: list[Sequence[str]] = []

    def execute(argv: Sequence[str]) -> subprocess.CompletedProcess[str]:
        ran.append(argv)
        code = 1 if argv[0] == "false" else 0
        return subprocess.CompletedProcess(list(argv), code, "", "it broke\n")

    runner = SystemRunner(execute)
    perform([Run(("true",), "fine"), Run(("false",), "may fail", may_fail=True)], runner, print)
    assert ran == [("true",), ("false",)]
    with pytest.raises(InstallError, match=r"false failed \(exit 1\): it broke"):
        runner.apply(Run(("false",), "must not fail"))


def test_plan_uses_the_given_prefix_and_user(tmp_path: Path) -> None:
    opts = InstallOptions(prefix=Path("/srv/gw"), user="heat", source=ROOT)
    steps = install_plan(opts, _NoFacts())
    texts = [" ".join(s.argv) for s in steps if isinstance(s, Run)]
    assert "useradd --system --gid heat --home-dir /var/lib/gwscada --no-create-home" in (
        " ".join(texts)
    )
    assert any(t.endswith("pip install --quiet /srv/gw/src") for t in texts)


class _NoFacts:
    def group_exists(self, name: str) -> bool:
        return False

    def user_exists(self, name: str) -> bool:
        return False


def test_cli_install_service_under_a_root(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["install-service", "--root", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "etc/systemd/system/gwscada.service").exists()
    result = CliRunner().invoke(app, ["uninstall-service", "--root", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert not (tmp_path / "etc/systemd/system/gwscada.service").exists()


def test_installer_needs_only_the_standard_library(tmp_path: Path) -> None:
    """`sudo python3 -m scada.install` runs on a fresh Pi: no pydantic, no typer."""
    code = (
        "import sys, scada.install; "
        "bad = [m for m in ('pydantic', 'typer', 'paho', 'textual') if m in sys.modules]; "
        "sys.exit(f'loaded: {bad}' if bad else 0)"
    )
    done = subprocess.run(
        [sys.executable, "-S", "-c", code], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    dry = subprocess.run(
        [sys.executable, "-S", "-m", "scada.install", "install", "--root", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert dry.returncode == 0, dry.stderr
    assert (tmp_path / "etc/systemd/system/gwscada.service").exists()
