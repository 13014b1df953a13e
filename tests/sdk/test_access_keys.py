"""Access keys through every official client (reference §e.6–§e.10), and
what keys can do: inactive keys, RAM users without policies."""

from conftest import ROOT_ID, expect_error, make_client, unique_name


def keys_of(listing):
    keys = listing.get("AccessKeys") or {}
    return keys.get("AccessKey", []) if isinstance(keys, dict) else []


def test_access_key_lifecycle(ram):
    user = unique_name("k")
    ram.call("CreateUser", UserName=user)
    created = ram.call("CreateAccessKey", UserName=user)["AccessKey"]
    key_id, secret = created["AccessKeyId"], created["AccessKeySecret"]
    assert key_id.startswith("LTAI") and len(key_id) == 24
    assert len(secret) == 30 and secret.isalnum()
    assert created["Status"] == "Active"

    listed = ram.call("ListAccessKeys", UserName=user)
    assert [k["AccessKeyId"] for k in keys_of(listed)] == [key_id]
    assert secret not in repr(listed), "secrets are shown once"

    second = ram.call("CreateAccessKey", UserName=user)["AccessKey"]["AccessKeyId"]
    expect_error(lambda: ram.call("CreateAccessKey", UserName=user), "LimitExceeded.User.AccessKey", 409)
    expect_error(lambda: ram.call("DeleteUser", UserName=user), "DeleteConflict.User.AccessKey", 409)

    ram.call("UpdateAccessKey", UserName=user, UserAccessKeyId=key_id, Status="Inactive")
    statuses = {k["AccessKeyId"]: k["Status"] for k in keys_of(ram.call("ListAccessKeys", UserName=user))}
    assert statuses == {key_id: "Inactive", second: "Active"}
    last = ram.call("GetAccessKeyLastUsed", UserName=user, UserAccessKeyId=key_id)
    assert "AccessKeyLastUsed" in last
    expect_error(
        lambda: ram.call("UpdateAccessKey", UserName=user, UserAccessKeyId="LTAI5tDoesNotExist000000", Status="Active"),
        "EntityNotExist.User.AccessKey",
        404,
    )

    for k in (key_id, second):
        ram.call("DeleteAccessKey", UserName=user, UserAccessKeyId=k)
    assert keys_of(ram.call("ListAccessKeys", UserName=user)) == []
    ram.call("DeleteUser", UserName=user)


def test_root_keys_and_last_used(ram):
    keys = keys_of(ram.call("ListAccessKeys"))
    assert ROOT_ID in [k["AccessKeyId"] for k in keys]
    last = ram.call("GetAccessKeyLastUsed", UserAccessKeyId=ROOT_ID)
    assert "LastUsedDate" in last["AccessKeyLastUsed"]


def test_inactive_key_and_user_without_policies(server, kind, root_json):
    user = unique_name("nopol")
    root_json.call("CreateUser", UserName=user)
    key = root_json.call("CreateAccessKey", UserName=user)["AccessKey"]
    as_user = make_client(kind, server["endpoint"], key["AccessKeyId"], key["AccessKeySecret"])
    err = expect_error(lambda: as_user.call("GetUser", UserName=user), "NoPermission", 403)
    assert err.message == "You are not authorized to do this action. You should be authorized by RAM."
    expect_error(lambda: as_user.call("ListUsers"), "NoPermission", 403)

    root_json.call("UpdateAccessKey", UserName=user, UserAccessKeyId=key["AccessKeyId"], Status="Inactive")
    expect_error(lambda: as_user.call("ListUsers"), "InvalidAccessKeyId.Inactive", 400)
    root_json.call("UpdateAccessKey", UserName=user, UserAccessKeyId=key["AccessKeyId"], Status="Active")
    expect_error(lambda: as_user.call("ListUsers"), "NoPermission", 403)


def test_unknown_key_and_wrong_secret(server, kind):
    ghost = make_client(kind, server["endpoint"], "LTAI5tGhostGhostGhost000", "x" * 30)
    expect_error(lambda: ghost.call("ListUsers"), "InvalidAccessKeyId.NotFound", 404)
    wrong = make_client(kind, server["endpoint"], ROOT_ID, "WrongSecret0123456789abcdefghi")
    # The old SDK compares the server's string to sign (after the ':' in the
    # message) with its own and, when equal, reports a wrong secret: that
    # only happens if our message has exactly the vendor's shape.
    expected = "InvalidAccessKeySecret" if kind == "old-json" else "SignatureDoesNotMatch"
    expect_error(lambda: wrong.call("ListUsers"), expected, 400)
