"""Response framing seen through the SDKs' transports (reference a.5, a.6):
content types, x-acs-request-id, the JSON and XML error envelopes, and the
XML shapes (root element, list wrappers). The old SDK is driven one level
below do_action_with_exception here, which hands back status, headers and
the raw body; the tea SDK exposes headers on success and the parsed error
body (`data`) on failure."""

import json
import xml.etree.ElementTree as ET

import pytest

from sdk_clients import (
    JSON_CONTENT_TYPE,
    REQUEST_ID,
    XML_CONTENT_TYPE,
    ApiError,
    old_request,
    unique_name,
)

ENVELOPE = {"RequestId", "HostId", "Code", "Message"}
# plus "Recommend" (a troubleshooting URL; the SDKs ignore it): checked on its own below


def old_raw(old_client, endpoint, action, fmt, **params):
    req = old_request(endpoint, action, fmt, **params)
    status, headers, body, _ = old_client._implementation_of_do_action(req)
    return status, {k.lower(): v for k, v in headers.items()}, body


@pytest.mark.parametrize("fmt", ["JSON", "XML"])
def test_old_sdk_success_framing(old_client, endpoint, fmt):
    name = unique_name("wire")
    status, headers, body = old_raw(old_client, endpoint, "CreateUser", fmt, UserName=name, Comments="<&>")
    assert status == 200
    if fmt == "JSON":
        assert headers.get("content-type") == JSON_CONTENT_TYPE
        doc = json.loads(body)
        request_id = doc["RequestId"]
        assert doc["User"]["Comments"] == "<&>"
    else:
        assert headers.get("content-type") == XML_CONTENT_TYPE
        root = ET.fromstring(body)
        assert root.tag == "CreateUserResponse"
        request_id = root.findtext("RequestId")
        assert root.find("User").findtext("Comments") == "<&>"
    assert REQUEST_ID.match(request_id)
    assert headers.get("x-acs-request-id") == request_id


@pytest.mark.parametrize("fmt", ["JSON", "XML"])
def test_old_sdk_error_envelope(old_client, endpoint, fmt):
    status, headers, body = old_raw(old_client, endpoint, "GetUser", fmt, UserName=unique_name("ghost"))
    assert status == 404
    if fmt == "JSON":
        assert headers.get("content-type") == JSON_CONTENT_TYPE
        doc = json.loads(body)
    else:
        assert headers.get("content-type") == XML_CONTENT_TYPE
        assert body.startswith(b"<?xml version='1.0' encoding='UTF-8'?>"), body[:60]
        root = ET.fromstring(body)
        assert root.tag == "Error"
        doc = {child.tag: child.text for child in root}
    assert ENVELOPE <= set(doc), f"error envelope fields: {sorted(doc)}"
    assert doc["Code"] == "EntityNotExist.User"
    assert doc["Message"] == "The user does not exist."
    assert doc["HostId"]
    assert REQUEST_ID.match(doc["RequestId"])
    assert headers.get("x-acs-request-id") == doc["RequestId"]


@pytest.mark.parametrize("tea", ["tea_client", "tea_v1_client"])
def test_tea_success_headers_and_error_data(request, tea):
    from alibabacloud_ram20150501 import models
    from alibabacloud_tea_openapi.exceptions import ClientException

    client = request.getfixturevalue(tea)
    response = client.list_users(models.ListUsersRequest(max_items=1))
    headers = {k.lower(): v for k, v in response.headers.items()}
    assert headers.get("content-type") == JSON_CONTENT_TYPE
    assert headers.get("x-acs-request-id") == response.body.request_id
    assert REQUEST_ID.match(response.body.request_id)

    with pytest.raises(ClientException) as info:
        client.get_user(models.GetUserRequest(user_name=unique_name("ghost")))
    e = info.value
    assert e.status_code == 404 and e.code == "EntityNotExist.User"
    assert ENVELOPE <= set(e.data), sorted(e.data)
    assert e.data["Message"] == "The user does not exist."
    assert e.request_id == e.data["RequestId"]


def test_error_envelope_has_recommend(old_client, endpoint, tea_client):
    """Reference a.6: errors carry Recommend (a troubleshooting URL), in JSON and XML."""
    from alibabacloud_ram20150501 import models
    from alibabacloud_tea_openapi.exceptions import ClientException

    ghost = unique_name("ghost")
    _, _, body = old_raw(old_client, endpoint, "GetUser", "JSON", UserName=ghost)
    assert json.loads(body).get("Recommend"), body
    _, _, body = old_raw(old_client, endpoint, "GetUser", "XML", UserName=ghost)
    assert ET.fromstring(body).findtext("Recommend"), body
    with pytest.raises(ClientException) as info:
        tea_client.get_user(models.GetUserRequest(user_name=ghost))
    assert info.value.data.get("Recommend"), info.value.data


def test_old_sdk_xml_lists(old_client, endpoint, admin):
    name = unique_name("xl")
    admin.call("CreateUser", UserName=name)
    admin.call("CreateAccessKey", UserName=name)
    admin.call("CreateAccessKey", UserName=name)

    status, _, body = old_raw(old_client, endpoint, "ListUsers", "XML", MaxItems=2)
    assert status == 200
    root = ET.fromstring(body)
    assert root.tag == "ListUsersResponse"
    users = root.find("Users")
    assert users is not None and len(users) == 2
    assert [child.tag for child in users] == ["User", "User"]
    assert root.findtext("IsTruncated") == "true"
    assert root.findtext("Marker")

    status, _, body = old_raw(old_client, endpoint, "ListAccessKeys", "XML", UserName=name)
    root = ET.fromstring(body)
    assert root.tag == "ListAccessKeysResponse"
    keys = root.find("AccessKeys")
    assert [child.tag for child in keys] == ["AccessKey", "AccessKey"]
    for key in keys:
        assert {child.tag for child in key} == {"AccessKeyId", "Status", "CreateDate"}


def test_old_sdk_empty_list_shapes(old_client, endpoint, admin):
    name = unique_name("empty")
    admin.call("CreateUser", UserName=name)
    _, _, body = old_raw(old_client, endpoint, "ListAccessKeys", "JSON", UserName=name)
    assert json.loads(body)["AccessKeys"] == {"AccessKey": []}
    _, _, body = old_raw(old_client, endpoint, "ListAccessKeys", "XML", UserName=name)
    keys = ET.fromstring(body).find("AccessKeys")
    assert keys is not None and len(keys) == 0, body


def test_json_types(old_client, endpoint, admin):
    name = unique_name("types")
    admin.call("CreateUser", UserName=name)
    _, _, body = old_raw(old_client, endpoint, "ListUsers", "JSON", MaxItems=1)
    doc = json.loads(body)
    assert doc["IsTruncated"] is True
    assert isinstance(doc["Marker"], str)
    assert isinstance(doc["Users"]["User"][0]["UserId"], str), "UserId is a JSON string"


def test_api_error_is_raised_not_returned(ram):
    """Sanity check of the wrappers: every kind turns an error into ApiError."""
    with pytest.raises(ApiError):
        ram.call("GetUser", UserName=unique_name("ghost"))
