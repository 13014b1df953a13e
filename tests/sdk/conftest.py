"""Official-SDK conformance suite: the server process and the clients.

A session fixture starts the real `trustdesk` binary (TRUSTDESK_BIN, default
target/debug/trustdesk) on a free loopback port with a fresh data directory
and a known root AccessKey, configured only through environment variables.
With TRUSTDESK_SDK_DATABASE_URL=postgres://… (run.sh --postgres sets it, on
a throwaway cluster) the server runs on that PostgreSQL database instead of
its embedded SQLite.
Tests drive it with the official Alibaba SDKs (see sdk_clients.py); state is
kept across the session, so every test names its entities with
`unique_name()`.

When a test fails, the server log lines written while it ran are attached to
its report ("trustdesk server log" section).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

import pytest

import sdk_clients
from sdk_clients import KINDS

ROOT_KEY_ID = "LTAI5tSdkSuiteRootKey001"
ROOT_KEY_SECRET = "SdkSuiteRootSecret7Q2w9E4r6T8y"  # 30 alphanumerics
DEVKEY = "SdkSuiteCertCentralAdminKey0123456789abcdefghij"  # the CertCentral administrator's X-DC-DEVKEY
ANSI = re.compile(r"\x1b\[[0-9;]*m")
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# Everything goes to 127.0.0.1: never through a proxy from the environment.
for _var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
    os.environ.pop(_var, None)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, binary: str):
        self.binary = binary
        self.port = _free_port()
        self.endpoint = f"127.0.0.1:{self.port}"
        self.tmp = tempfile.mkdtemp(prefix="trustdesk-sdk-")
        self.log_path = os.path.join(self.tmp, "server.log")
        self.proc = None

    def start(self):
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "TRUSTDESK_LISTEN": self.endpoint,
            "TRUSTDESK_DATA_DIR": os.path.join(self.tmp, "data"),
            "TRUSTDESK_BOOTSTRAP_ACCESS_KEY_ID": ROOT_KEY_ID,
            "TRUSTDESK_BOOTSTRAP_ACCESS_KEY_SECRET": ROOT_KEY_SECRET,
            "TRUSTDESK_BOOTSTRAP_API_KEY": DEVKEY,
            "TRUSTDESK_LOG_FORMAT": "text",
            "NO_COLOR": "1",
        }
        database = os.environ.get("TRUSTDESK_SDK_DATABASE_URL")
        if database:
            env["TRUSTDESK_DATABASE_URL"] = database
            # Nodes on PostgreSQL never invent a master key: they must share one.
            env["TRUSTDESK_MASTER_KEY"] = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
        if os.environ.get("TRUSTDESK_LOG"):  # e.g. TRUSTDESK_LOG=debug to see requests in failure reports
            env["TRUSTDESK_LOG"] = os.environ["TRUSTDESK_LOG"]
        os.makedirs(env["TRUSTDESK_DATA_DIR"])
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [self.binary, "serve"], env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + 30
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"trustdesk exited with {self.proc.returncode} before ready:\n{self.log()}")
            try:
                with urllib.request.urlopen(f"http://{self.endpoint}/readyz", timeout=1) as r:
                    if r.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"trustdesk not ready after 30 s on /readyz:\n{self.log()}")
            time.sleep(0.05)

    def stop(self) -> int | None:
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return None  # hung

    def log_size(self) -> int:
        try:
            return os.path.getsize(self.log_path)
        except OSError:
            return 0

    def log(self, since: int = 0, limit: int = 20000) -> str:
        try:
            with open(self.log_path, "rb") as f:
                f.seek(since)
                text = f.read().decode("utf-8", "replace")
        except OSError:
            return "(no server log)"
        text = ANSI.sub("", text)
        return text if len(text) <= limit else "…" + text[-limit:]


_SERVER: Server | None = None


@pytest.fixture(scope="session")
def server(request):
    global _SERVER
    binary = os.environ.get("TRUSTDESK_BIN") or os.path.join(REPO_ROOT, "target", "debug", "trustdesk")
    if not os.path.isfile(binary):
        pytest.exit(f"server binary {binary} not found: run `cargo build -p trustdesk` or set TRUSTDESK_BIN", 2)
    srv = Server(binary)
    try:
        srv.start()
    except RuntimeError as e:
        pytest.exit(str(e), 2)
    _SERVER = srv
    yield srv
    code = srv.stop()
    _SERVER = None
    if code != 0:
        how = "hung for 10 s after SIGTERM and was killed" if code is None else f"exited with {code} on SIGTERM"
        pytest.fail(f"trustdesk {how}; data and log kept in {srv.tmp}. Log:\n{srv.log()}", pytrace=False)
    if request.session.testsfailed == 0:
        shutil.rmtree(srv.tmp, ignore_errors=True)
    else:
        print(f"\n--- trustdesk data and log kept in {srv.tmp}")


@pytest.fixture(autouse=True)
def _server_log_mark(request):
    """Remember where the server log stood when this test started."""
    request.node._trustdesk_log_mark = _SERVER.log_size() if _SERVER else 0
    yield


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.failed and _SERVER is not None:
        since = getattr(item, "_trustdesk_log_mark", 0)
        alive = "running" if _SERVER.proc.poll() is None else f"EXITED with {_SERVER.proc.returncode}"
        report.sections.append((f"trustdesk server log ({alive})", _SERVER.log(since)))
    return report


# --------------------------------------------------------------------------
# clients


@pytest.fixture(scope="session")
def endpoint(server) -> str:
    return server.endpoint


@pytest.fixture(scope="session")
def certcentral(endpoint):
    """call(method, path, body=None, key=DEVKEY) -> (status, parsed JSON or None) on /services/v2."""
    import json

    def call(method: str, path: str, body=None, key: str = DEVKEY):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(f"http://{endpoint}/services/v2{path}", data=data, method=method)
        req.add_header("X-DC-DEVKEY", key)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                raw = r.read()
                return r.status, (json.loads(raw) if raw else None)
        except urllib.error.HTTPError as e:
            raw = e.read()
            return e.code, (json.loads(raw) if raw else None)

    return call


@pytest.fixture(scope="session")
def root_creds() -> tuple[str, str]:
    return ROOT_KEY_ID, ROOT_KEY_SECRET


@pytest.fixture(scope="session")
def old_client(root_creds):
    """aliyunsdkcore AcsClient with the root key (region cn-hangzhou)."""
    return sdk_clients.new_old_client(*root_creds)


@pytest.fixture(scope="session")
def tea_client(endpoint, root_creds):
    """alibabacloud_ram20150501 Client with the root key, ACS3 signature."""
    return sdk_clients.new_tea_client(endpoint, *root_creds)


@pytest.fixture(scope="session")
def tea_v1_client(endpoint, root_creds):
    """alibabacloud_ram20150501 Client with the root key, V1 (HMAC-SHA1) signature."""
    return sdk_clients.new_tea_client(endpoint, *root_creds, signature_algorithm="v2")


@pytest.fixture(params=KINDS)
def kind(request) -> str:
    return request.param


@pytest.fixture
def ram(kind, endpoint, old_client, tea_client, tea_v1_client) -> sdk_clients.Ram:
    """The root account through one of the four client kinds (parametrized)."""
    tea = tea_v1_client if kind == "tea-v1" else tea_client
    return sdk_clients.wrap(kind, endpoint, old_client=old_client, tea_client=tea)


@pytest.fixture
def client_for(endpoint):
    """client_for(kind, key_id, secret) -> a wrapped client signing with those credentials."""

    def make(kind: str, key_id: str, secret: str) -> sdk_clients.Ram:
        return sdk_clients.client_for(kind, endpoint, key_id, secret)

    return make


@pytest.fixture
def admin(endpoint, old_client) -> sdk_clients.Ram:
    """A fixed root client (old SDK, JSON) for setting up and cleaning state."""
    return sdk_clients.wrap("old-json", endpoint, old_client=old_client)


# --------------------------------------------------------------------------
# CAS 2018-07-13 clients (the same four kinds, CAS packages)


@pytest.fixture(scope="session")
def tea_cas_client(endpoint, root_creds):
    """alibabacloud_cas20180713 Client with the root key, ACS3 signature."""
    return sdk_clients.new_tea_client(endpoint, *root_creds, product="cas")


@pytest.fixture(scope="session")
def tea_cas_v1_client(endpoint, root_creds):
    """alibabacloud_cas20180713 Client with the root key, V1 (HMAC-SHA1) signature."""
    return sdk_clients.new_tea_client(endpoint, *root_creds, signature_algorithm="v2", product="cas")


@pytest.fixture
def cas(kind, endpoint, old_client, tea_cas_client, tea_cas_v1_client) -> sdk_clients.Cas:
    """The root account's CAS through one of the four client kinds (parametrized)."""
    tea = tea_cas_v1_client if kind == "tea-v1" else tea_cas_client
    return sdk_clients.wrap_cas(kind, endpoint, old_client=old_client, tea_client=tea)


@pytest.fixture
def cas_client_for(endpoint):
    """cas_client_for(kind, key_id, secret) -> a wrapped CAS client signing with those credentials."""

    def make(kind: str, key_id: str, secret: str) -> sdk_clients.Cas:
        return sdk_clients.cas_client_for(kind, endpoint, key_id, secret)

    return make


@pytest.fixture
def cas_admin(endpoint, old_client) -> sdk_clients.Cas:
    """A fixed root CAS client (old SDK, JSON) for setting up and checking state."""
    return sdk_clients.wrap_cas("old-json", endpoint, old_client=old_client)
