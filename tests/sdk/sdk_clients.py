"""The official Alibaba SDK clients behind one small interface.

Every test talks to trustdesk through `Ram.call(action, **params)`, with
parameters named as in the API (`UserName`, `MaxItems`, ...). It returns the
response body as a dict (PascalCase keys, RAM lists as `{"User": [...]}`) and
raises `ApiError(code, status, message, request_id)` on an error, whichever
SDK and wire format sits underneath:

* ``old-json``  aliyun-python-sdk-core + aliyun-python-sdk-ram, signature V1,
                through the public ``do_action_with_exception`` (so the SDK's
                own error handling, e.g. the InvalidAccessKeySecret rewrite, runs);
* ``old-xml``   the same SDK with ``Format=XML``. ``do_action_with_exception``
                forces JSON, so this goes one level lower
                (``_implementation_of_do_action``, what the SDK itself uses) and
                parses the XML here, checking its shape on the way;
* ``tea-acs3``  alibabacloud_ram20150501 on tea-openapi 0.4.6, default ACS3;
* ``tea-v1``    the same with ``signature_algorithm='v2'`` (V1, HMAC-SHA1).
"""

from __future__ import annotations

import datetime
import importlib
import json
import re
import uuid
import xml.etree.ElementTree as ET

import pytest

KINDS = ["old-json", "old-xml", "tea-acs3", "tea-v1"]
REGION = "cn-hangzhou"
JSON_CONTENT_TYPE = "application/json;charset=utf-8"
XML_CONTENT_TYPE = "text/xml;charset=utf-8"
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
REQUEST_ID = re.compile(r"^[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}$")
# RAM lists are a wrapper element holding repeated items (reference a.5).
LIST_WRAPPERS = {"Users": "User", "AccessKeys": "AccessKey", "Groups": "Group", "Policies": "Policy"}


class ApiError(Exception):
    """An error response, as the SDK reported it."""

    def __init__(self, code, status, message, request_id=None, raw=None):
        super().__init__(f"HTTP {status} {code}: {message}")
        self.code, self.status, self.message = code, status, message
        self.request_id, self.raw = request_id, raw


def snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


# --------------------------------------------------------------------------
# raw SDK clients


def new_old_client(key_id: str, secret: str):
    from aliyunsdkcore.client import AcsClient

    return AcsClient(key_id, secret, REGION)


def new_tea_client(endpoint: str, key_id: str, secret: str, signature_algorithm: str | None = None):
    from alibabacloud_ram20150501.client import Client
    from alibabacloud_tea_openapi.models import Config

    config = Config(access_key_id=key_id, access_key_secret=secret, endpoint=endpoint, protocol="http")
    if signature_algorithm:
        config.signature_algorithm = signature_algorithm
    return Client(config)


def old_request(endpoint: str, action: str, fmt: str = "JSON", **params):
    """An aliyunsdkram request object aimed at trustdesk over plain HTTP."""
    module = importlib.import_module(f"aliyunsdkram.request.v20150501.{action}Request")
    req = getattr(module, f"{action}Request")()
    req.set_endpoint(endpoint)
    req.set_protocol_type("http")
    req.set_accept_format(fmt)
    for name, value in params.items():
        getattr(req, f"set_{name}")(value)
    return req


# --------------------------------------------------------------------------
# XML helpers


def xml_to_dict(elem):
    """XML response -> the same dict the JSON body would give (values as text)."""
    children = list(elem)
    if not children:
        if elem.tag in LIST_WRAPPERS:  # an empty list: <Users/>
            return {LIST_WRAPPERS[elem.tag]: []}
        return elem.text or ""
    out = {}
    for child in children:
        value = xml_to_dict(child)
        if LIST_WRAPPERS.get(elem.tag) == child.tag:
            out.setdefault(child.tag, []).append(value)
        else:
            assert child.tag not in out, f"repeated <{child.tag}> outside a list"
            out[child.tag] = value
    return out


def check_xml_lists(root):
    """Every RAM list wrapper holds only its item element."""
    for wrapper, item in LIST_WRAPPERS.items():
        for elem in root.iter(wrapper):
            tags = {child.tag for child in elem}
            assert tags <= {item}, f"<{wrapper}> holds {tags}, expected only <{item}>"


# --------------------------------------------------------------------------
# the uniform wrappers


class Ram:
    kind = "?"
    last_raw: bytes | None = None  # raw body of the last success, when the SDK exposes it
    last_headers: dict | None = None  # lower-cased response headers, when the SDK exposes them

    def call(self, action: str, **params) -> dict:
        raise NotImplementedError


class OldSdkRam(Ram):
    def __init__(self, client, endpoint: str, fmt: str):
        self.client, self.endpoint, self.fmt = client, endpoint, fmt
        self.kind = f"old-{fmt.lower()}"
        self.last_request = None

    def call(self, action, **params):
        from aliyunsdkcore.acs_exception.exceptions import ServerException

        req = old_request(self.endpoint, action, self.fmt, **params)
        self.last_request = req
        if self.fmt == "JSON":
            try:
                raw = self.client.do_action_with_exception(req)
            except ServerException as e:
                raise ApiError(e.get_error_code(), e.get_http_status(), e.get_error_msg(), e.get_request_id()) from e
            self.last_raw, self.last_headers = raw, None
            body = json.loads(raw)
            assert isinstance(body, dict), raw
            return body

        status, headers, raw, _sdk_exc = self.client._implementation_of_do_action(req)
        headers = {k.lower(): v for k, v in headers.items()}
        assert headers.get("content-type") == XML_CONTENT_TYPE, (status, headers.get("content-type"), raw)
        root = ET.fromstring(raw)
        check_xml_lists(root)
        if status >= 400:
            assert root.tag == "Error", raw
            fields = {child.tag: child.text for child in root}
            raise ApiError(fields.get("Code"), status, fields.get("Message"), fields.get("RequestId"), raw)
        assert status == 200, (status, raw)
        assert root.tag == f"{action}Response", raw
        self.last_raw, self.last_headers = raw, headers
        return xml_to_dict(root)


class TeaRam(Ram):
    def __init__(self, client, kind: str):
        self.client, self.kind = client, kind

    def call(self, action, **params):
        from alibabacloud_ram20150501 import models
        from alibabacloud_tea_openapi.exceptions import AlibabaCloudException

        request = getattr(models, f"{action}Request")(**{snake(k): v for k, v in params.items()})
        try:
            response = getattr(self.client, snake(action))(request)
        except AlibabaCloudException as e:
            data = e.data or {}
            raise ApiError(e.code, e.status_code, data.get("Message"), e.request_id, data) from e
        assert response.status_code == 200, response.status_code
        self.last_raw = None
        self.last_headers = {k.lower(): v for k, v in (response.headers or {}).items()}
        return response.body.to_map()


def wrap(kind: str, endpoint: str, old_client=None, tea_client=None) -> Ram:
    if kind in ("old-json", "old-xml"):
        return OldSdkRam(old_client, endpoint, "JSON" if kind == "old-json" else "XML")
    if kind in ("tea-acs3", "tea-v1"):
        return TeaRam(tea_client, kind)
    raise ValueError(kind)


def client_for(kind: str, endpoint: str, key_id: str, secret: str) -> Ram:
    """A wrapped client of `kind` that signs with the given AccessKey pair."""
    if kind.startswith("old-"):
        return wrap(kind, endpoint, old_client=new_old_client(key_id, secret))
    algorithm = "v2" if kind == "tea-v1" else None
    return wrap(kind, endpoint, tea_client=new_tea_client(endpoint, key_id, secret, algorithm))


# --------------------------------------------------------------------------
# reading responses the same way for every kind


def items(body: dict, wrapper: str, item: str) -> list:
    """The entries of a RAM list (`{"Users": {"User": [...]}}`)."""
    assert wrapper in body, f"list wrapper {wrapper} missing from {body}"
    inner = body[wrapper]
    assert isinstance(inner, dict), f"{wrapper} is not an object: {inner!r}"
    return inner.get(item, [])


def truthy(value) -> bool:
    """JSON booleans, XML text 'true'/'false'."""
    assert value in (True, False, "true", "false"), value
    return value in (True, "true")


def unique_name(prefix: str = "sdk") -> str:
    """A fresh RAM user name (letters, digits, '-'; well under 64 chars)."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def expect_error(fn, code: str, status: int | None = None, message: str | None = None) -> ApiError:
    """Call fn, require an ApiError with this code (and status / exact message)."""
    with pytest.raises(ApiError) as info:
        fn()
    err = info.value
    assert err.code == code, f"expected {code}, got {err} (raw: {err.raw!r})"
    if status is not None:
        assert err.status == status, f"expected HTTP {status} for {code}, got {err.status}"
    if message is not None:
        assert err.message == message, f"{code}: message {err.message!r}, expected {message!r}"
    assert err.request_id and REQUEST_ID.match(err.request_id), f"RequestId {err.request_id!r}"
    return err


def check_request_id(body):
    assert REQUEST_ID.match(body.get("RequestId", "")), f"RequestId {body.get('RequestId')!r}"


def check_date(value, near_now=True):
    assert isinstance(value, str) and DATE.match(value), f"date {value!r}"
    if near_now:
        when = datetime.datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)
        skew = abs((datetime.datetime.now(datetime.timezone.utc) - when).total_seconds())
        assert skew < 300, f"{value} is not now in UTC"


def check_user_id(value):
    assert isinstance(value, str) and re.fullmatch(r"[1-9]\d{15}", value), f"UserId {value!r}"
