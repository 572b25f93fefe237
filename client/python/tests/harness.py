# SPDX-License-Identifier: MIT
"""The real parts the tests run against: skyflow-emulator over TLS (tests/emulator/demo.json)
and skybrokerd with a generated configuration, as scripts/demo starts them.

Binaries come from the environment the ctest registration sets (SKYBROKERD, SKYFLOW_EMULATOR,
SKYBROKER_SOURCE_DIR), else from build/default of the source tree. Tokens are minted over
HTTPS and kept in memory only: never on a command line, never printed.
"""

from __future__ import annotations

import json
import os
import signal
import ssl
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any, Dict, List, Optional

from skybroker import Client, SkybrokerError

SRC = Path(os.environ.get("SKYBROKER_SOURCE_DIR") or Path(__file__).resolve().parents[3])
BUILD = SRC / "build" / "default"
DEMO_JSON = SRC / "tests" / "emulator" / "demo.json"


def binary(env: str, default: Path) -> str:
    """The path of a binary from $env or the default build tree; fails with what to do."""
    path = os.environ.get(env) or str(default)
    if not os.access(path, os.X_OK):
        raise RuntimeError(f"{path} is missing: build first (cmake --preset default && cmake "
                           f"--build --preset default), or set {env}")
    return path


def _wait(pred: Any, seconds: float, what: str) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if pred():
            return
        time.sleep(0.05)
    raise RuntimeError(f"timed out waiting for {what}")


def _stop(proc: subprocess.Popen[bytes], seconds: float = 10) -> int:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            return proc.wait(seconds)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            return -9
    return proc.returncode


class Emulator:
    """skyflow-emulator (Skyflow and Descope) over TLS with a throw-away CA, in dir."""

    def __init__(self, dir: Path) -> None:
        self.dir = dir
        tls = dir / "tls"
        subprocess.run(["sh", str(SRC / "tests" / "tls" / "mkca.sh"), str(tls)], check=True,
                       stdout=subprocess.DEVNULL)
        self.ca = str(tls / "ca.pem")
        self._out = dir / "emulator.out"
        self.log = dir / "emulator.log"
        with open(self._out, "wb") as out, open(self.log, "wb") as err:
            self.proc = subprocess.Popen(
                [binary("SKYFLOW_EMULATOR", BUILD / "tests/emulator/skyflow-emulator"),
                 "--config", str(DEMO_JSON), "--listen", "127.0.0.1:0",
                 "--state-dir", str(dir / "emulator"), "--tls-cert", str(tls / "server.pem"),
                 "--tls-key", str(tls / "server.key")], stdout=out, stderr=err)
        _wait(lambda: self._ready() is not None or self.proc.poll() is not None, 30,
              "the emulator's ready line")
        ready = self._ready()
        if ready is None:
            raise RuntimeError(f"the emulator did not start; see {self.log}")
        self.url, self.vault_id = ready["url"], ready["vault_id"]
        self.project_id, self.credentials = ready["project_id"], ready["credentials"]
        with open(self.credentials) as f:
            self.sa_id: str = json.load(f)["clientID"]
        self._ssl = ssl.create_default_context(cafile=self.ca)

    def _ready(self) -> Optional[Dict[str, str]]:
        for line in self._out.read_text().splitlines():
            if line.startswith("ready "):
                return dict(kv.split("=", 1) for kv in line.split()[1:])
        return None

    def post(self, path: str, body: Dict[str, Any], method: str = "POST") -> Any:
        """A JSON request to the emulator; its JSON answer."""
        req = urllib.request.Request(self.url + path, data=json.dumps(body).encode(),
                                     method=method,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, context=self._ssl, timeout=10) as r:
            return json.loads(r.read() or b"null")

    def mint(self, sub: str, roles: Optional[List[str]] = None, exp_in: int = 600) -> str:
        """A Descope session token for sub with roles."""
        body: Dict[str, Any] = {"sub": sub, "exp_in": exp_in}
        if roles is not None:
            body["roles"] = roles
        token: str = self.post("/emulator/descope/token", body)["token"]
        return token

    def fault(self, **fault: Any) -> None:
        """Adds a fault (tests/emulator/README.md, POST /emulator/faults)."""
        self.post("/emulator/faults", fault)

    def clear_faults(self) -> None:
        self.post("/emulator/faults", {}, method="DELETE")

    def stop(self) -> None:
        _stop(self.proc)


class Broker:
    """skybrokerd on the emulator, sockets in dir/run: tenant ``acme`` (allow_tables =
    persons) on the main socket, ``capped`` (max_redaction = MASKED) on capped.sock, and
    ``open`` (every table, expose_tokens = yes) on open.sock."""

    def __init__(self, emu: Emulator, dir: Path, broker_extra: str = "") -> None:
        self.dir = dir
        run = dir / "run"
        run.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.socket = str(run / "skybroker.sock")
        self.admin = str(run / "admin.sock")
        self.capped = str(run / "capped.sock")
        self.open = str(run / "open.sock")
        self.log = dir / "skybrokerd.log"
        self.conf = dir / "skybroker.conf"
        # Generous upstream timeouts: 32 requests in flight at once open TLS connections to
        # the emulator, which takes seconds on a loaded machine under ASan. No test waits on
        # them: the timeouts tested are the client's.
        tenants = [("acme", None, "allow_tables = persons"),
                   ("capped", self.capped, "allow_tables = persons\nmax_redaction = MASKED"),
                   ("open", self.open, "expose_tokens = yes")]
        text = (f"[broker]\nsocket = {self.socket}\nadmin_socket = {self.admin}\n"
                f"log_level = debug\n{broker_extra}\n")
        for name, sock, extra in tenants:
            text += (f"\n[tenant.{name}]\n" + (f"socket = {sock}\n" if sock else "") +
                     f"allow_uids = {os.getuid()}\n"
                     f"descope_project_id = {emu.project_id}\n"
                     f"jwks_url = {emu.url}/{emu.project_id}/.well-known/jwks.json\n"
                     f"exchange = sts\nsts_url = {emu.url}/v1/auth/sts/token\n"
                     f"service_account_id = {emu.sa_id}\n"
                     f"credentials_file = {emu.credentials}\n"
                     f"context_claims = roles, sub\n"
                     f"vault_url = {emu.url}\nvault_id = {emu.vault_id}\nca_file = {emu.ca}\n"
                     f"http_timeout = 30s\nconnect_timeout = 30s\n{extra}\n")
        self.conf.write_text(text)
        self.proc: Optional[subprocess.Popen[bytes]] = None
        self.start()

    def start(self) -> None:
        """Starts skybrokerd and waits until the main tenant is ready."""
        cmd = [binary("SKYBROKERD", BUILD / "broker/skybrokerd"), "--config", str(self.conf)]
        if os.getuid() == 0:
            cmd.append("--allow-root")  # CI and containers run as root on purpose
        with open(self.log, "ab") as err:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                                         stdout=subprocess.DEVNULL, stderr=err)
        _wait(self._ready, 30, "skybrokerd to be ready")

    def _ready(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise RuntimeError(f"skybrokerd exited with {self.proc.returncode}; see {self.log}")
        try:
            with Client(self.socket, timeout=1, attempts=1) as c:
                return c.health().ready
        except SkybrokerError:
            return False

    def stop(self) -> int:
        """Stops skybrokerd (SIGTERM); its exit status."""
        assert self.proc is not None
        return _stop(self.proc)

    def restart(self) -> None:
        self.stop()
        self.start()

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


def assert_log_clean(broker: Broker, tokens: List[str]) -> None:
    """Neither a token nor a seed record value (of 5 bytes or more: "CA" may be part of a
    word) in the broker's log."""
    log = broker.log_text()
    assert "eyJ" not in log, "a token in skybrokerd's log"
    assert not [t for t in tokens if t[-40:] in log], "a token in skybrokerd's log"
    leaked = [v for v in demo_values() if len(v) >= 5 and v in log]
    assert not leaked, "record values in skybrokerd's log"


def demo_values() -> List[str]:
    """Every string value of demo.json's seed records but their ids: what the broker must
    never log."""
    with open(DEMO_JSON) as f:
        tables = json.load(f)["vault"]["tables"]
    return [v for t in tables for rec in t.get("records", []) for k, v in rec.items()
            if isinstance(v, str) and k != "skyflow_id"]
