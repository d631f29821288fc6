"""Fixtures for the end-to-end server tests: the demo model (``fathom make-tiny``) and
``fathom serve`` processes on it, each on a free port of 127.0.0.1, always stopped at the end.

``FATHOM_BIN`` names the ``fathom`` executable (ctest sets it). Nothing here skips: a missing
binary, package or model is a failure, because CI provides them all.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import subprocess
import threading
import time
from pathlib import Path

import openai  # noqa: F401  (imported here so that a missing package fails collection)
import pytest

REPO = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 180  # loading the demo model on the reference backend
STOP_TIMEOUT_S = 20
HTTP_TIMEOUT_S = 60

# The deployment every test server shares; fixtures append their own [server] table.
BASE_CONFIG = """
[runtime]
backends = ["reference"]
max_batch = {max_batch}
max_seq_len = 512

[generation]
max_new_tokens = 16
"""


def render_like_transformers(template: str, **variables) -> str:
    """The oracle for chat templates: Jinja2 in the environment transformers' apply_chat_template
    compiles (trim_blocks, lstrip_blocks, loop controls, its tojson), with the variables it passes."""
    from jinja2.ext import loopcontrols
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols])
    env.filters["tojson"] = lambda x, indent=None, sort_keys=False: json.dumps(
        x, ensure_ascii=False, indent=indent, sort_keys=sort_keys)
    return env.from_string(template).render(**variables)


def fathom_bin() -> str:
    path = os.environ.get("FATHOM_BIN") or str(REPO / "build" / "bin" / "fathom")
    if not os.access(path, os.X_OK):
        pytest.fail(f"no fathom executable at {path} (set FATHOM_BIN)")
    return path


class ServerProcess:
    """One ``fathom serve`` process. Its stderr is drained on a thread (a full pipe would block
    the server) and kept for failure messages."""

    def __init__(self, model_dir: Path, config_path: Path, extra_args: list[str] | None = None):
        self.model_dir = model_dir
        self.model_id = model_dir.name
        self.log: list[str] = []
        self._listening = threading.Event()
        self.host = "127.0.0.1"
        self.port = 0
        cmd = [fathom_bin(), "serve", "--model", str(model_dir), "--config", str(config_path),
               "--host", self.host, "--port", "0", *(extra_args or [])]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True, errors="replace")
        self._reader = threading.Thread(target=self._read_stderr, daemon=True)
        self._reader.start()
        try:
            self._wait_until_ready()
        except BaseException:
            self.stop()
            raise

    def _read_stderr(self) -> None:
        for line in self.proc.stderr:
            self.log.append(line.rstrip("\n"))
            m = re.search(r"listening on http://([^:]+):(\d+)", line)
            if m:
                self.port = int(m.group(2))
                self._listening.set()

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self._listening.wait(0.2):
            if self.proc.poll() is not None:
                raise AssertionError(f"fathom serve exited with {self.proc.returncode}:\n{self.stderr()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"fathom serve not listening after {START_TIMEOUT_S}s:\n{self.stderr()}")
        while self.health().get("status") != "ok":
            if time.monotonic() > deadline:
                raise AssertionError("/health never said ok")
            time.sleep(0.1)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def stderr(self) -> str:
        return "\n".join(self.log[-50:])

    def request(self, method: str, path: str, body: bytes | str | None = None,
                headers: dict[str, str] | None = None, chunked: bool = False) -> tuple[int, bytes]:
        """A raw HTTP exchange on a fresh connection; returns (status, body). `chunked` sends an
        iterable body with chunked transfer encoding."""
        conn = http.client.HTTPConnection(self.host, self.port, timeout=HTTP_TIMEOUT_S)
        try:
            conn.request(method, path, body=body, headers=headers or {}, encode_chunked=chunked)
            resp = conn.getresponse()
            return resp.status, resp.read()
        finally:
            conn.close()

    def post_json(self, path: str, payload, headers: dict[str, str] | None = None) -> tuple[int, dict]:
        status, body = self.request("POST", path, json.dumps(payload),
                                    {"Content-Type": "application/json", **(headers or {})})
        return status, json.loads(body)

    def health(self) -> dict:
        try:
            status, body = self.request("GET", "/health")
        except OSError:
            return {}
        return json.loads(body) if status in (200, 503) else {}

    def wait_for_health(self, predicate, timeout_s: float = 30.0) -> dict:
        """Polls /health until predicate(health) holds; fails with the last state otherwise."""
        deadline = time.monotonic() + timeout_s
        state = self.health()
        while not predicate(state):
            if time.monotonic() > deadline:
                raise AssertionError(f"/health did not reach the expected state in {timeout_s}s: {state}")
            time.sleep(0.05)
            state = self.health()
        return state

    def client(self, api_key: str = "unused", **kwargs) -> openai.OpenAI:
        return openai.OpenAI(base_url=self.url + "/v1", api_key=api_key, max_retries=0,
                             timeout=HTTP_TIMEOUT_S, **kwargs)

    def stop(self, sig: int = signal.SIGTERM) -> int:
        """Signals the server and waits; kills it if it does not stop in time. Returns the exit
        status (negative: killed by that signal)."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(STOP_TIMEOUT_S)
        self._reader.join(5)
        return self.proc.returncode


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("models") / "tiny-v3"
    subprocess.run([fathom_bin(), "make-tiny", "--out", str(out)], check=True, timeout=300,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return out


@pytest.fixture(scope="session")
def start_server(tiny_model, tmp_path_factory):
    """A factory: start_server(server_toml="", max_batch=8) → a running ServerProcess. Every
    server started is stopped at the end of the session."""
    started: list[ServerProcess] = []

    def start(server_toml: str = "", max_batch: int = 8, extra_args: list[str] | None = None) -> ServerProcess:
        config = tmp_path_factory.mktemp("config") / "serve.toml"
        config.write_text(BASE_CONFIG.format(max_batch=max_batch) + server_toml)
        server = ServerProcess(tiny_model, config, extra_args)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture(scope="session")
def server(start_server) -> ServerProcess:
    """The shared server: 8 batch slots, a 64 KiB body limit, no API key."""
    return start_server("[server]\nmax_body_bytes = 65536\n")
