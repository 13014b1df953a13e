"""Official-SDK conformance suite: fixtures.

A session fixture starts the real `trustdesk` binary on a free loopback port
with a fresh data directory and a known root key; the tests drive it with
the official Alibaba SDKs:

* old SDK: aliyun-python-sdk-core + aliyun-python-sdk-ram (signature V1),
  in JSON and in XML format;
* tea SDK: alibabacloud_ram20150501 on alibabacloud-tea-openapi, with its
  default ACS3-HMAC-SHA256 signature and forced to V1 (signature_algorithm='v2').

`Ram` wraps each client behind one interface (`call(action, **params)`
returning the response as a dict, raising `ApiError`), so every test reads
the same for all four ways of calling.
"""

import importlib
import json
import os
import re
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
import uuid
import xml.etree.ElementTree as ET

import pytest

ROOT_ID = "LTAI5tSdkSuiteRootKey001"
ROOT_SECRET = "SdkSuiteRootSecret0123456789ab"
# RAM lists: a wrapper element holding repeated items (reference §a.5).
LIST_WRAPPERS = {"Users": "User", "AccessKeys": "AccessKey"}


class ApiError(Exception):
    def __init__(self, code, status, message, raw=None):
        super().__init__(f"{status} {code}: {message}")
        self.code, self.status, self.message, self.raw = code, status, message, raw


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def server():
    binary = os.environ.get("TRUSTDESK_BIN", "target/debug/trustdesk")
    if not os.path.exists(binary):
        pytest.exit(f"server binary {binary} not found; build it with `cargo build -p trustdesk`", 2)
    port = _free_port()
    data = tempfile.mkdtemp(prefix="trustdesk-sdk-")
    log_path = os.path.join(data, "server.log")
    env = {
        "PATH": os.environ.get("PATH", ""),
        "TRUSTDESK_LISTEN": f"127.0.0.1:{port}",
        "TRUSTDESK_DATA_DIR": os.path.join(data, "data"),
        "TRUSTDESK_BOOTSTRAP_ACCESS_KEY_ID": ROOT_ID,
        "TRUSTDESK_BOOTSTRAP_ACCESS_KEY_SECRET": ROOT_SECRET,
        "TRUSTDESK_LOG_FORMAT": "text",
        "TRUSTDESK_LOG": "info",
    }
    log = open(log_path, "wb")
    proc = subprocess.Popen([binary, "serve"], env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.time() + 30
    while True:
        if proc.poll() is not None:
            pytest.exit(f"server exited: {open(log_path).read()}", 2)
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as r:
                if r.status == 200:
                    break
        except OSError:
            pass
        if time.time() > deadline:
            proc.kill()
            pytest.exit(f"server not ready: {open(log_path).read()}", 2)
        time.sleep(0.05)
    yield {"endpoint": f"127.0.0.1:{port}", "port": port, "log": log_path}
    proc.send_signal(signal.SIGTERM)
    try:
        code = proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        code = proc.wait()
    log.close()
    assert code == 0, f"server did not exit cleanly ({code}): {open(log_path).read()[-2000:]}"


def unique_name(prefix="sdk"):
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def snake(name):
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def xml_to_dict(elem):
    children = list(elem)
    if not children:
        return elem.text or ""
    out = {}
    for child in children:
        value = xml_to_dict(child)
        if LIST_WRAPPERS.get(elem.tag) == child.tag:
            out.setdefault(child.tag, []).append(value)
        else:
            out[child.tag] = value
    return out


class OldSdk:
    """aliyun-python-sdk-core + aliyun-python-sdk-ram (V1)."""

    def __init__(self, endpoint, key_id, secret, fmt="JSON"):
        from aliyunsdkcore.client import AcsClient

        self.client = AcsClient(key_id, secret, "cn-hangzhou")
        self.endpoint, self.fmt = endpoint, fmt
        self.last_raw = None

    def call(self, action, **params):
        from aliyunsdkcore.acs_exception.exceptions import ServerException

        module = importlib.import_module(f"aliyunsdkram.request.v20150501.{action}Request")
        req = getattr(module, f"{action}Request")()
        req.set_endpoint(self.endpoint)
        req.set_protocol_type("http")
        req.set_accept_format(self.fmt)
        for k, v in params.items():
            getattr(req, f"set_{k}")(v)
        if self.fmt == "XML":
            # do_action_with_exception forces Format=JSON; the SDK's own
            # lower-level call keeps the requested format and hands back
            # status, headers and body.
            status, headers, raw, _ = self.client._implementation_of_do_action(req)
            content_type = {k.lower(): v for k, v in headers.items()}.get("content-type")
            assert content_type == "text/xml;charset=utf-8", content_type
            root = ET.fromstring(raw)
            if status >= 400:
                assert root.tag == "Error", raw
                raise ApiError(root.findtext("Code"), status, root.findtext("Message"), raw)
            assert root.tag == f"{action}Response", raw
            self.last_raw = raw
            return xml_to_dict(root)
        try:
            raw = self.client.do_action_with_exception(req)
        except ServerException as e:
            raise ApiError(e.get_error_code(), e.get_http_status(), e.get_error_msg()) from e
        self.last_raw = raw
        return json.loads(raw)


class TeaSdk:
    """alibabacloud_ram20150501 on tea-openapi: ACS3 by default, V1 with 'v2'."""

    def __init__(self, endpoint, key_id, secret, signature=None):
        from alibabacloud_ram20150501.client import Client
        from alibabacloud_tea_openapi.models import Config

        cfg = Config(access_key_id=key_id, access_key_secret=secret, endpoint=endpoint, protocol="http")
        if signature:
            cfg.signature_algorithm = signature
        self.client = Client(cfg)

    def call(self, action, **params):
        from alibabacloud_ram20150501 import models

        request = getattr(models, f"{action}Request")(**{snake(k): v for k, v in params.items()})
        try:
            response = getattr(self.client, snake(action))(request)
        except Exception as e:  # the tea SDK's ClientException / ServerException
            code = getattr(e, "code", None)
            if code is None:
                raise
            raise ApiError(code, getattr(e, "status_code", None), (getattr(e, "data", None) or {}).get("Message"), getattr(e, "data", None)) from e
        assert response.status_code == 200
        return response.body.to_map()


CLIENT_KINDS = ["old-json", "old-xml", "tea-acs3", "tea-v1"]


def make_client(kind, endpoint, key_id=ROOT_ID, secret=ROOT_SECRET):
    if kind == "old-json":
        return OldSdk(endpoint, key_id, secret, "JSON")
    if kind == "old-xml":
        return OldSdk(endpoint, key_id, secret, "XML")
    if kind == "tea-acs3":
        return TeaSdk(endpoint, key_id, secret)
    if kind == "tea-v1":
        return TeaSdk(endpoint, key_id, secret, "v2")
    raise ValueError(kind)


@pytest.fixture(params=CLIENT_KINDS)
def kind(request):
    return request.param


@pytest.fixture
def ram(server, kind):
    return make_client(kind, server["endpoint"])


@pytest.fixture
def root_json(server):
    """A plain old-SDK JSON client as root, for setting up state."""
    return make_client("old-json", server["endpoint"])


def expect_error(fn, code, status=None):
    with pytest.raises(ApiError) as info:
        fn()
    assert info.value.code == code, f"{info.value} (raw: {info.value.raw})"
    if status is not None:
        assert info.value.status == status, str(info.value)
    return info.value
