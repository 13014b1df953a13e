"""Access keys of RAM users through every client kind: CreateAccessKey,
ListAccessKeys, UpdateAccessKey, GetAccessKeyLastUsed, DeleteAccessKey
(reference e.6-e.10) and their errors."""

import re

import pytest

from sdk_clients import check_date, check_request_id, expect_error, items, unique_name

KEY_ID = re.compile(r"^LTAI[A-Za-z0-9]{20}$")
KEY_SECRET = re.compile(r"^[A-Za-z0-9]{30}$")
NO_KEY = "The user access key does not exist."
NO_USER = "The user does not exist."


def keys_of(ram, user):
    body = ram.call("ListAccessKeys", UserName=user)
    check_request_id(body)
    return items(body, "AccessKeys", "AccessKey")


def assert_no_secret(ram, body, *secrets):
    """No AccessKeySecret field, and no secret value, anywhere in the response."""
    text = repr(body) + repr(ram.last_raw or b"")
    assert "AccessKeySecret" not in text
    for secret in secrets:
        assert secret not in text


@pytest.fixture
def user(admin):
    name = unique_name("ak")
    admin.call("CreateUser", UserName=name)
    return name


def test_create_access_key(ram, user):
    body = ram.call("CreateAccessKey", UserName=user)
    check_request_id(body)
    assert set(body) == {"RequestId", "AccessKey"}
    key = body["AccessKey"]
    assert set(key) == {"AccessKeyId", "AccessKeySecret", "Status", "CreateDate"}
    assert KEY_ID.match(key["AccessKeyId"]), key["AccessKeyId"]
    assert KEY_SECRET.match(key["AccessKeySecret"]), "secret: 30 alphanumerics"
    assert key["Status"] == "Active"
    check_date(key["CreateDate"])


def test_list_access_keys_never_shows_secrets(ram, user):
    first = ram.call("CreateAccessKey", UserName=user)["AccessKey"]
    second = ram.call("CreateAccessKey", UserName=user)["AccessKey"]
    assert first["AccessKeyId"] != second["AccessKeyId"]
    assert first["AccessKeySecret"] != second["AccessKeySecret"]
    body = ram.call("ListAccessKeys", UserName=user)
    check_request_id(body)
    listed = items(body, "AccessKeys", "AccessKey")
    assert {k["AccessKeyId"] for k in listed} == {first["AccessKeyId"], second["AccessKeyId"]}
    for k in listed:
        assert set(k) == {"AccessKeyId", "Status", "CreateDate"}
        assert k["Status"] == "Active"
        check_date(k["CreateDate"])
    created = {first["AccessKeyId"]: first["CreateDate"], second["AccessKeyId"]: second["CreateDate"]}
    assert {k["AccessKeyId"]: k["CreateDate"] for k in listed} == created
    assert_no_secret(ram, body, first["AccessKeySecret"], second["AccessKeySecret"])


def test_list_access_keys_empty(ram, user):
    assert keys_of(ram, user) == []


def test_update_access_key_status(ram, user):
    key_id = ram.call("CreateAccessKey", UserName=user)["AccessKey"]["AccessKeyId"]
    other = ram.call("CreateAccessKey", UserName=user)["AccessKey"]["AccessKeyId"]
    body = ram.call("UpdateAccessKey", UserName=user, UserAccessKeyId=key_id, Status="Inactive")
    check_request_id(body)
    assert set(body) == {"RequestId"}
    assert {k["AccessKeyId"]: k["Status"] for k in keys_of(ram, user)} == {key_id: "Inactive", other: "Active"}
    ram.call("UpdateAccessKey", UserName=user, UserAccessKeyId=key_id, Status="Active")
    assert {k["AccessKeyId"]: k["Status"] for k in keys_of(ram, user)} == {key_id: "Active", other: "Active"}
    # setting the current status again is fine
    ram.call("UpdateAccessKey", UserName=user, UserAccessKeyId=key_id, Status="Active")


def test_get_access_key_last_used(ram, user, client_for, kind):
    key = ram.call("CreateAccessKey", UserName=user)["AccessKey"]
    body = ram.call("GetAccessKeyLastUsed", UserName=user, UserAccessKeyId=key["AccessKeyId"])
    check_request_id(body)
    assert set(body) == {"RequestId", "AccessKeyLastUsed"}
    assert "LastUsedDate" not in (body["AccessKeyLastUsed"] or {}), "never used: no LastUsedDate"

    # the user's own key authenticates (then lacks permission): that is a use
    as_user = client_for(kind, key["AccessKeyId"], key["AccessKeySecret"])
    expect_error(lambda: as_user.call("ListUsers"), "NoPermission", 403)
    used = ram.call("GetAccessKeyLastUsed", UserName=user, UserAccessKeyId=key["AccessKeyId"])
    check_date(used["AccessKeyLastUsed"]["LastUsedDate"])


def test_root_key_last_used(ram, root_creds):
    ram.call("ListUsers", MaxItems=1)
    body = ram.call("GetAccessKeyLastUsed", UserAccessKeyId=root_creds[0])
    check_date(body["AccessKeyLastUsed"]["LastUsedDate"])


def test_delete_access_key(ram, user, client_for, kind):
    key = ram.call("CreateAccessKey", UserName=user)["AccessKey"]
    key_id = key["AccessKeyId"]
    body = ram.call("DeleteAccessKey", UserName=user, UserAccessKeyId=key_id)
    check_request_id(body)
    assert set(body) == {"RequestId"}
    assert keys_of(ram, user) == []
    for action, extra in (
        ("DeleteAccessKey", {}),
        ("GetAccessKeyLastUsed", {}),
        ("UpdateAccessKey", {"Status": "Inactive"}),
    ):
        expect_error(
            lambda: ram.call(action, UserName=user, UserAccessKeyId=key_id, **extra),
            "EntityNotExist.User.AccessKey",
            404,
            NO_KEY,
        )
    # a deleted key no longer authenticates
    gone = client_for(kind, key_id, key["AccessKeySecret"])
    expect_error(lambda: gone.call("ListUsers"), "InvalidAccessKeyId.NotFound", 404, "Specified access key is not found.")
    # without keys the user can be deleted
    ram.call("DeleteUser", UserName=user)


def test_third_access_key_is_refused(ram, user):
    ram.call("CreateAccessKey", UserName=user)
    second = ram.call("CreateAccessKey", UserName=user)["AccessKey"]["AccessKeyId"]
    ram.call("UpdateAccessKey", UserName=user, UserAccessKeyId=second, Status="Inactive")
    expect_error(
        lambda: ram.call("CreateAccessKey", UserName=user),
        "LimitExceeded.User.AccessKey",
        409,
        "The access key count of the user access keys beyond the current limits.",
    )
    assert len(keys_of(ram, user)) == 2, "inactive keys count too"


def test_delete_user_with_access_key(ram, user):
    key_id = ram.call("CreateAccessKey", UserName=user)["AccessKey"]["AccessKeyId"]
    expect_error(
        lambda: ram.call("DeleteUser", UserName=user),
        "DeleteConflict.User.AccessKey",
        409,
        "The user CAN NOT has any access key while deleting the user.",
    )
    assert ram.call("GetUser", UserName=user)["User"]["UserName"] == user
    ram.call("DeleteAccessKey", UserName=user, UserAccessKeyId=key_id)
    ram.call("DeleteUser", UserName=user)


def test_unknown_access_key(ram, user):
    for action, extra in (
        ("UpdateAccessKey", {"Status": "Active"}),
        ("DeleteAccessKey", {}),
        ("GetAccessKeyLastUsed", {}),
    ):
        expect_error(
            lambda: ram.call(action, UserName=user, UserAccessKeyId="LTAI5tDoesNotExist000000", **extra),
            "EntityNotExist.User.AccessKey",
            404,
            NO_KEY,
        )


def test_access_key_of_another_user(ram, user, admin):
    other = unique_name("ak-other")
    admin.call("CreateUser", UserName=other)
    key_id = admin.call("CreateAccessKey", UserName=other)["AccessKey"]["AccessKeyId"]
    expect_error(
        lambda: ram.call("UpdateAccessKey", UserName=user, UserAccessKeyId=key_id, Status="Inactive"),
        "EntityNotExist.User.AccessKey",
        404,
        NO_KEY,
    )
    expect_error(
        lambda: ram.call("DeleteAccessKey", UserName=user, UserAccessKeyId=key_id),
        "EntityNotExist.User.AccessKey",
        404,
        NO_KEY,
    )
    # without UserName the caller (root) is meant: not the owner of this key either
    expect_error(
        lambda: ram.call("UpdateAccessKey", UserAccessKeyId=key_id, Status="Inactive"),
        "EntityNotExist.User.AccessKey",
        404,
        NO_KEY,
    )
    assert [k["Status"] for k in keys_of(admin, other)] == ["Active"]


def test_access_keys_of_unknown_user(ram):
    ghost = unique_name("ghost")
    expect_error(lambda: ram.call("CreateAccessKey", UserName=ghost), "EntityNotExist.User", 404, NO_USER)
    expect_error(lambda: ram.call("ListAccessKeys", UserName=ghost), "EntityNotExist.User", 404, NO_USER)


def test_update_access_key_bad_status(ram, user):
    key_id = ram.call("CreateAccessKey", UserName=user)["AccessKey"]["AccessKeyId"]
    for status in ("Disabled", "inactive"):
        expect_error(
            lambda: ram.call("UpdateAccessKey", UserName=user, UserAccessKeyId=key_id, Status=status),
            "InvalidParameter.Status",
            400,
        )
    assert [k["Status"] for k in keys_of(ram, user)] == ["Active"]
