"""`fathom serve` for the benchmark scripts: started on a free port with one [runtime] key set,
an OpenAI client on it, and always stopped at the end."""
from __future__ import annotations

import contextlib
import os
import re
import subprocess
import tempfile
import threading
from typing import Iterator



def start_server(fathom: str, model: str, config: str) -> tuple[subprocess.Popen, int]:
    proc = subprocess.Popen([fathom, "serve", "--model", model, "--config", config, "--host", "127.0.0.1", "--port", "0"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    for line in proc.stderr:
        m = re.search(r"listening on http://127\.0\.0\.1:(\d+)", line)
        if m:
            # Keep draining stderr: a full pipe would block the server.
            threading.Thread(target=lambda: [None for _ in proc.stderr], daemon=True).start()
            return proc, int(m.group(1))
    raise SystemExit("fathom serve exited before listening")


@contextlib.contextmanager
def serving(fathom: str, model: str, config_path: str, runtime_setting: str) -> Iterator[tuple["openai.OpenAI", str]]:
    """The deployment in `config_path` with `runtime_setting` ("key = value") added to [runtime];
    yields an OpenAI client and the served model's id."""
    base = open(config_path).read()
    with tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False) as f:
        f.write(re.sub(r"\[runtime\]", f"[runtime]\n{runtime_setting}", base, count=1))
        config = f.name
    import openai  # here, so that start_server works without the package

    proc, port = start_server(fathom, model, config)
    try:
        client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="unused", timeout=600)
        yield client, client.models.list().data[0].id
    finally:
        proc.terminate()
        proc.wait(timeout=60)
        os.unlink(config)
