"""The production web server (`python -m config.serve`, Granian) as a subprocess, for tests and benchmarks.

    with WebServer(env={"DATABASE_URL": ...}) as server:
        urllib.request.urlopen(f"{server.url}/healthz")

It listens on a free port of 127.0.0.1 in its own process group, its output goes to a temporary file
(`output()`), and leaving the block stops it (SIGTERM to the group, SIGKILL after a timeout).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent.parent
HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def http_status(url: str, timeout: float = 5) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except (urllib.error.URLError, OSError):
        return None


class WebServer:
    def __init__(self, *, env: dict[str, str] | None = None, start_timeout: float = 60.0, stop_timeout: float = 20.0):
        self.env = {**os.environ, **(env or {})}
        self.port = free_port()
        self.url = f"http://{HOST}:{self.port}"
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self._log = tempfile.NamedTemporaryFile("w+", prefix="webserver-", suffix=".log", delete=False)
        self.process: subprocess.Popen | None = None
        self.argv: list[str] = []

    def __enter__(self) -> WebServer:
        from config.serve import server_argv

        saved = os.environ.copy()
        try:  # server_argv reads WEB_WORKERS / WEB_THREADS from the environment the server gets
            os.environ.clear()
            os.environ.update(self.env)
            self.argv = server_argv(host=HOST, port=self.port)
        finally:
            os.environ.clear()
            os.environ.update(saved)
        self.process = subprocess.Popen(
            self.argv,
            cwd=BASE_DIR,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + self.start_timeout
        while http_status(f"{self.url}/healthz") != 200:
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.__exit__(None, None, None)
                raise RuntimeError(f"the web server did not answer /healthz with 200:\n{self.output()}")
            time.sleep(0.2)
        return self

    def output(self) -> str:
        if self._log.closed:
            return ""
        self._log.flush()
        return Path(self._log.name).read_text(errors="replace")[-5000:]

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(self.stop_timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def __exit__(self, *exc) -> None:
        self.stop()
        if not self._log.closed:
            self._log.close()
            os.unlink(self._log.name)
