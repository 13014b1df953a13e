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

CAS 2018-07-13 goes through the same four kinds with the CAS packages
(aliyun-python-sdk-cas, alibabacloud_cas20180713): `Cas.call` returns the
body with the JSON types whatever the format (XML text is checked and
converted, see `cas_from_xml`), and `Cas.call_form` sends the parameters in
a form body only, through each SDK's generic request (the typed requests
also put every parameter in the query string).
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
LIST_WRAPPERS = {
    "Users": "User",
    "AccessKeys": "AccessKey",
    "Groups": "Group",
    "Policies": "Policy",
    "PolicyVersions": "PolicyVersion",
    "Roles": "Role",
}


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


TEA_PACKAGES = {"ram": "alibabacloud_ram20150501", "cas": "alibabacloud_cas20180713"}
OLD_PACKAGES = {"ram": "aliyunsdkram.request.v20150501", "cas": "aliyunsdkcas.request.v20180713"}


def new_tea_client(
    endpoint: str, key_id: str, secret: str, signature_algorithm: str | None = None, product: str = "ram"
):
    from alibabacloud_tea_openapi.models import Config

    Client = importlib.import_module(f"{TEA_PACKAGES[product]}.client").Client
    config = Config(access_key_id=key_id, access_key_secret=secret, endpoint=endpoint, protocol="http")
    if signature_algorithm:
        config.signature_algorithm = signature_algorithm
    return Client(config)


def old_request(endpoint: str, action: str, fmt: str = "JSON", product: str = "ram", **params):
    """An aliyunsdkram (or aliyunsdkcas) request object aimed at trustdesk over plain HTTP."""
    module = importlib.import_module(f"{OLD_PACKAGES[product]}.{action}Request")
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
    product = "ram"

    def __init__(self, client, endpoint: str, fmt: str):
        self.client, self.endpoint, self.fmt = client, endpoint, fmt
        self.kind = f"old-{fmt.lower()}"
        self.last_request = None

    def call(self, action, **params):
        return self.send(action, old_request(self.endpoint, action, self.fmt, self.product, **params))

    def from_xml(self, action, root) -> dict:
        check_xml_lists(root)
        return xml_to_dict(root)

    def send(self, action, req):
        from aliyunsdkcore.acs_exception.exceptions import ServerException

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
        if status >= 400:
            assert root.tag == "Error", raw
            fields = {child.tag: child.text for child in root}
            raise ApiError(fields.get("Code"), status, fields.get("Message"), fields.get("RequestId"), raw)
        assert status == 200, (status, raw)
        assert root.tag == f"{action}Response", raw
        self.last_raw, self.last_headers = raw, headers
        return self.from_xml(action, root)


class TeaRam(Ram):
    product = "ram"

    def __init__(self, client, kind: str):
        self.client, self.kind = client, kind

    def call(self, action, **params):
        models = importlib.import_module(f"{TEA_PACKAGES[self.product]}.models")
        request = getattr(models, f"{action}Request")(**{snake(k): v for k, v in params.items()})
        method = getattr(self.client, TEA_METHODS.get(action, snake(action)))
        return self.send(lambda: method(request))

    def send(self, do):
        from alibabacloud_tea_openapi.exceptions import AlibabaCloudException

        try:
            response = do()
        except AlibabaCloudException as e:
            data = e.data or {}
            raise ApiError(e.code, e.status_code, data.get("Message"), e.request_id, data) from e
        # (alibabacloud_cas20180713's older models keep no status_code; tea
        # raises on any 4xx/5xx, so a response here is a success either way.)
        status = getattr(response, "status_code", 200)
        assert status == 200, status
        self.last_raw = None
        self.last_headers = {k.lower(): v for k, v in (response.headers or {}).items()}
        return response.body.to_map()


# tea method names that snake() does not give
TEA_METHODS = {"CreateDVOrderAudit": "create_dvorder_audit", "DescribeDVOrderResult": "describe_dvorder_result"}


# --------------------------------------------------------------------------
# CAS 2018-07-13

CAS_VERSION = "2018-07-13"
# CAS lists are bare arrays: in XML the item element itself repeats under the
# root, and an empty list is no element at all (cas.rs wire map).
CAS_ARRAYS = {"DescribeUserCertificateList": "CertificateList", "DescribeOrderInstanceList": "OrderList"}
CAS_INTS = {"CertId", "Id", "id", "TotalCount", "CurrentPage", "ShowSize"}
CAS_BOOLS = {"Expired", "BuyInAliyun", "expired", "buyInAliyun"}


def _cas_scalar(tag: str, elem):
    assert len(elem) == 0, f"<{tag}> has children: {[c.tag for c in elem]}"
    text = elem.text or ""
    if tag in CAS_INTS:
        assert re.fullmatch(r"-?\d+", text), f"<{tag}>{text}</{tag}> is not an integer"
        return int(text)
    if tag in CAS_BOOLS:
        assert text in ("true", "false"), f"<{tag}>{text}</{tag}> is not a boolean"
        return text == "true"
    return text


def cas_from_xml(action: str, root) -> dict:
    """A CAS XML response -> the dict its JSON body would be (typed)."""
    array = CAS_ARRAYS.get(action)
    out = {array: []} if array else {}
    for child in root:
        if child.tag == array:
            out[array].append(_cas_object(child))
        else:
            assert child.tag not in out, f"repeated <{child.tag}> in {action}"
            out[child.tag] = _cas_scalar(child.tag, child)
    return out


def _cas_object(elem) -> dict:
    out = {}
    for child in elem:
        assert child.tag not in out, f"repeated <{child.tag}> in <{elem.tag}>"
        out[child.tag] = _cas_scalar(child.tag, child)
    return out


class Cas(Ram):
    """A CAS 2018-07-13 client; `call` as for RAM, plus `call_form`."""

    def call_form(self, action: str, **params) -> dict:
        raise NotImplementedError


class OldSdkCas(OldSdkRam, Cas):
    product = "cas"

    def from_xml(self, action, root):
        return cas_from_xml(action, root)

    def call_form(self, action, **params):
        from aliyunsdkcore.request import CommonRequest

        req = CommonRequest(domain=self.endpoint, version=CAS_VERSION, action_name=action)
        req.set_protocol_type("http")
        req.set_method("POST")
        req.set_accept_format(self.fmt)
        for name, value in params.items():
            req.add_body_params(name, value)
        return self.send(action, req)


class TeaCas(TeaRam, Cas):
    product = "cas"

    def call_form(self, action, **params):
        from alibabacloud_tea_openapi import models as open_api_models
        from alibabacloud_tea_util import models as util_models

        api = open_api_models.Params(
            action=action, version=CAS_VERSION, protocol="HTTPS", pathname="/", method="POST",
            auth_type="AK", style="RPC", req_body_type="formData", body_type="json",
        )
        request = open_api_models.OpenApiRequest(body=dict(params))
        models = importlib.import_module(f"{TEA_PACKAGES[self.product]}.models")
        response_model = getattr(models, f"{action}Response")
        return self.send(
            lambda: response_model().from_map(self.client.call_api(api, request, util_models.RuntimeOptions()))
        )


def wrap_cas(kind: str, endpoint: str, old_client=None, tea_client=None) -> Cas:
    if kind in ("old-json", "old-xml"):
        return OldSdkCas(old_client, endpoint, "JSON" if kind == "old-json" else "XML")
    if kind in ("tea-acs3", "tea-v1"):
        return TeaCas(tea_client, kind)
    raise ValueError(kind)


def cas_client_for(kind: str, endpoint: str, key_id: str, secret: str) -> Cas:
    """A wrapped CAS client of `kind` that signs with the given AccessKey pair."""
    if kind.startswith("old-"):
        return wrap_cas(kind, endpoint, old_client=new_old_client(key_id, secret))
    algorithm = "v2" if kind == "tea-v1" else None
    return wrap_cas(kind, endpoint, tea_client=new_tea_client(endpoint, key_id, secret, algorithm, "cas"))


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
