"""A whole federation on one machine: one SuperLink and one SuperNode per site on 127.0.0.1.

For a pilot before the sites are wired up, and for the tests. Everything is secure as in a
real deployment: TLS with freshly generated certificates and SuperNode authentication (each
site's public key registered with the SuperLink). ``insecure=True`` turns both off and warns.
Every process is started in its own session and stopped by its pid (with its children).
"""

from __future__ import annotations

import logging
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
import warnings
from pathlib import Path

import psutil

from fedmix.flower.credentials import write_node_keys, write_tls_credentials

__all__ = ["APP_DIR", "LoopbackFederation"]

log = logging.getLogger("fedmix.flower.loopback")

APP_DIR = Path(__file__).parent / "app"  # the Flower App: pyproject.toml naming our apps
_CONNECTION = "loopback"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_port(port: int, proc: subprocess.Popen, timeout: float, log_path: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode}; see {log_path}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout} s; see {log_path}")


class LoopbackFederation:
    """``with LoopbackFederation(workdir, sites) as fed: fed.run(...)``.

    sites: {name: node config dict} (see :class:`fedmix.flower.client_app.SiteConfig`).
    """

    def __init__(self, workdir, sites: dict[str, dict], insecure: bool = False):
        self.workdir = Path(workdir)
        self.sites = sites
        self.insecure = insecure
        self.port = _free_port()
        self.procs: dict[str, subprocess.Popen] = {}
        self.starts: dict[str, int] = {}
        # Flower's usage telemetry off: a pilot or a test must not phone home.
        self.env = dict(
            os.environ, FLWR_HOME=str(self.workdir / "flwr-home"), FLWR_TELEMETRY_ENABLED="0"
        )
        bindir = str(Path(sys.executable).parent)
        self.env["PATH"] = bindir + os.pathsep + self.env.get("PATH", "")
        if insecure:
            warnings.warn(
                "INSECURE Flower federation: no TLS and no SuperNode authentication; models "
                "and statistics travel in clear text. Use only on a trusted, isolated machine.",
                stacklevel=2,
            )

    # ------------------------------------------------------------------ lifecycle
    def __enter__(self) -> LoopbackFederation:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def start(self, timeout: float = 180) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        security = ["--insecure"]
        if not self.insecure:
            self.creds = write_tls_credentials(self.workdir / "certs", "127.0.0.1")
            self.keys = {s: write_node_keys(self.workdir / "certs", s) for s in self.sites}
            security = [
                "--ssl-ca-certfile", str(self.creds["ca_cert"]),
                "--ssl-certfile", str(self.creds["server_cert"]),
                "--ssl-keyfile", str(self.creds["server_key"]),
                "--enable-supernode-auth",
            ]  # fmt: skip
        self._write_connection()
        self._spawn(
            "superlink",
            ["flower-superlink", *security, "--host", "127.0.0.1", "--port", str(self.port),
             "--disable-runtime-dependency-installation"],
        )  # fmt: skip
        _wait_for_port(self.port, self.procs["superlink"], timeout, self.log_path("superlink"))
        if not self.insecure:
            for site, (_, public) in self.keys.items():
                self._flwr(["supernode", "register", str(public), _CONNECTION, "--name", site])
        for site in self.sites:
            self.start_node(site)

    def close(self) -> None:
        """Stop every process this object started (SIGTERM, then SIGKILL), children first."""
        for name in reversed(list(self.procs)):
            self._stop(name)

    # ------------------------------------------------------------------ nodes and runs
    def start_node(self, site: str) -> None:
        cfg = " ".join(f"{k}={_toml(v)}" for k, v in self.sites[site].items())
        security = ["--insecure"]
        if not self.insecure:
            security = [
                "--root-certificates", str(self.creds["ca_cert"]),
                "--auth-supernode-private-key", str(self.keys[site][0]),
            ]  # fmt: skip
        self._spawn(
            f"node-{site}",
            ["flower-supernode", "--superlink", f"127.0.0.1:{self.port}", *security,
             "--port", str(_free_port()), "--node-config", cfg],
        )  # fmt: skip

    def kill_node(self, site: str) -> None:
        """SIGKILL a site's SuperNode and its ClientApp: the site vanishes mid-round."""
        self._stop(f"node-{site}", sig=signal.SIGKILL)

    def run(self, run_config: dict, timeout: float = 900) -> subprocess.Popen:
        """Submit the fedmix app with ``run_config`` overrides; returns the streaming process."""
        overrides = " ".join(f"{k}={_toml(v)}" for k, v in run_config.items())
        cmd = ["flwr", "run", str(APP_DIR), _CONNECTION, "--stream", "--run-config", overrides]
        return self._spawn("flwr-run", cmd)

    def log_path(self, name: str) -> Path:
        return self.workdir / "logs" / f"{name}.{self.starts.get(name, 0)}.log"

    def log_text(self, name: str) -> str:
        path = self.log_path(name)
        return path.read_text(errors="replace") if path.exists() else ""

    # ------------------------------------------------------------------ internals
    def _write_connection(self) -> None:
        home = self.workdir / "flwr-home"
        home.mkdir(parents=True, exist_ok=True)
        lines = ["[superlink]", f'default = "{_CONNECTION}"', f"[superlink.{_CONNECTION}]",
                 f'address = "127.0.0.1:{self.port}"']  # fmt: skip
        lines.append("insecure = true" if self.insecure else
                     f'root-certificates = "{self.creds["ca_cert"]}"')  # fmt: skip
        (home / "config.toml").write_text("\n".join(lines) + "\n")

    def _spawn(self, name: str, cmd: list[str]) -> subprocess.Popen:
        self.starts[name] = self.starts.get(name, 0) + 1
        path = self.log_path(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        log.info("starting %s: %s", name, shlex.join(cmd))
        with open(path, "w") as out:
            proc = subprocess.Popen(
                cmd, stdout=out, stderr=subprocess.STDOUT, env=self.env, start_new_session=True
            )
        self.procs[name] = proc
        return proc

    def _flwr(self, args: list[str]) -> None:
        done = subprocess.run(
            ["flwr", *args], env=self.env, capture_output=True, text=True, timeout=300
        )
        if done.returncode != 0:
            raise RuntimeError(f"flwr {shlex.join(args)} failed:\n{done.stdout}\n{done.stderr}")

    def _stop(self, name: str, sig=signal.SIGTERM, grace: float = 20) -> None:
        proc = self.procs.pop(name, None)
        if proc is None or proc.poll() is not None:
            return
        try:
            parent = psutil.Process(proc.pid)
            family = [*parent.children(recursive=True), parent]
        except psutil.NoSuchProcess:
            return
        for p in family:
            try:
                p.send_signal(sig)
            except psutil.NoSuchProcess:
                pass
        _, alive = psutil.wait_procs(family, timeout=grace)
        for p in alive:
            p.kill()
        proc.wait()


def _toml(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'
