"""Authentication and authorization as each SDK sees them (reference d):
wrong secret, unknown / deleted / inactive keys, RAM users without policies."""

import re

import pytest

from sdk_clients import expect_error, unique_name

NO_PERMISSION = "You are not authorized to do this action. You should be authorized by RAM."
V1_MISMATCH = "Specified signature is not matched with our calculation. server string to sign is:"
ACS3_MISMATCH = "Specified signature does not match our calculation. server StringToSign is ["
WRONG_SECRET = "WrongSecretWrongSecretWrong123"


@pytest.fixture
def user_key(admin):
    """A RAM user without any policy, and its own AccessKey."""
    name = unique_name("nopol")
    admin.call("CreateUser", UserName=name)
    key = admin.call("CreateAccessKey", UserName=name)["AccessKey"]
    return name, key["AccessKeyId"], key["AccessKeySecret"]


def test_wrong_secret(kind, client_for, root_creds):
    wrong = client_for(kind, root_creds[0], WRONG_SECRET)
    if kind == "old-json":
        # The old SDK compares the text after the first ':' of the message with
        # its own string to sign and, when they are equal, reports a wrong
        # secret: this proves the server's V1 message and string to sign.
        expect_error(
            lambda: wrong.call("ListUsers"),
            "InvalidAccessKeySecret",
            400,
            "The AccessKeySecret is incorrect. Please check your AccessKeyId and AccessKeySecret.",
        )
        return
    err = expect_error(lambda: wrong.call("ListUsers"), "SignatureDoesNotMatch", 400)
    if kind == "old-xml":
        # Same comparison as the SDK makes for JSON, done here for the XML error.
        assert err.message.startswith(V1_MISMATCH), err.message
        assert err.message.split(":", 1)[1] == wrong.last_request.string_to_sign
    elif kind == "tea-v1":
        assert err.message.startswith(V1_MISMATCH), err.message
        assert re.fullmatch(r"POST&%2F&\S+", err.message[len(V1_MISMATCH):]), err.message
    else:
        assert err.message.startswith(ACS3_MISMATCH) and err.message.endswith("]"), err.message
        assert re.fullmatch(r"ACS3-HMAC-SHA256\n[0-9a-f]{64}", err.message[len(ACS3_MISMATCH):-1]), err.message


def test_wrong_secret_on_a_write_changes_nothing(kind, client_for, root_creds, admin):
    name = unique_name("nosig")
    wrong = client_for(kind, root_creds[0], WRONG_SECRET)
    with pytest.raises(Exception):
        wrong.call("CreateUser", UserName=name)
    expect_error(lambda: admin.call("GetUser", UserName=name), "EntityNotExist.User", 404)


def test_unknown_access_key_id(kind, client_for):
    ghost = client_for(kind, "LTAI5tGhostGhostGhost000", "x" * 30)
    expect_error(lambda: ghost.call("ListUsers"), "InvalidAccessKeyId.NotFound", 404, "Specified access key is not found.")


def test_user_without_policy_gets_no_permission(kind, client_for, user_key):
    name, key_id, secret = user_key
    as_user = client_for(kind, key_id, secret)
    calls = [
        ("GetUser", {"UserName": name}),
        ("ListUsers", {}),
        ("CreateUser", {"UserName": unique_name("byuser")}),
        ("UpdateUser", {"UserName": name, "NewComments": "self"}),
        ("ListAccessKeys", {"UserName": name}),
        ("DeleteUser", {"UserName": name}),
    ]
    for action, params in calls:
        expect_error(lambda: as_user.call(action, **params), "NoPermission", 403, NO_PERMISSION)


def test_inactive_key_is_refused_then_works_again(kind, client_for, admin, user_key):
    name, key_id, secret = user_key
    as_user = client_for(kind, key_id, secret)
    expect_error(lambda: as_user.call("ListUsers"), "NoPermission", 403)

    admin.call("UpdateAccessKey", UserName=name, UserAccessKeyId=key_id, Status="Inactive")
    expect_error(lambda: as_user.call("ListUsers"), "InvalidAccessKeyId.Inactive", 400, "Specified access key is disabled.")
    expect_error(lambda: as_user.call("GetUser", UserName=name), "InvalidAccessKeyId.Inactive", 400)

    admin.call("UpdateAccessKey", UserName=name, UserAccessKeyId=key_id, Status="Active")
    expect_error(lambda: as_user.call("ListUsers"), "NoPermission", 403, NO_PERMISSION)


def test_second_root_key_inactive_then_active(kind, client_for, admin):
    """A second key of the root account (CreateAccessKey without UserName):
    refused while Inactive, fully usable again once reactivated."""
    key = admin.call("CreateAccessKey")["AccessKey"]
    key_id = key["AccessKeyId"]
    try:
        root2 = client_for(kind, key_id, key["AccessKeySecret"])
        assert "Users" in root2.call("ListUsers", MaxItems=1)
        admin.call("UpdateAccessKey", UserAccessKeyId=key_id, Status="Inactive")
        expect_error(lambda: root2.call("ListUsers"), "InvalidAccessKeyId.Inactive", 400, "Specified access key is disabled.")
        admin.call("UpdateAccessKey", UserAccessKeyId=key_id, Status="Active")
        assert "Users" in root2.call("ListUsers", MaxItems=1)
    finally:
        admin.call("DeleteAccessKey", UserAccessKeyId=key_id)
    expect_error(lambda: root2.call("ListUsers"), "InvalidAccessKeyId.NotFound", 404)
