"""RAM users through every official client: CreateUser, GetUser, UpdateUser,
DeleteUser, ListUsers (reference §e.1–§e.5), including validation errors."""

import re

from conftest import expect_error, unique_name

DATE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
NASTY = "a&b=c%d!e'f(g)h*i~j k+l/m:n,o;p@q[r]s{t}u|v^w`x\"y<z>?#中文😀"


def truthy(v):
    return v is True or v == "true"


def test_create_get_update_delete(ram):
    name = unique_name("u")
    created = ram.call(
        "CreateUser",
        UserName=name,
        DisplayName="张三",
        MobilePhone="86-18600008888",
        Email="alice@example.com",
        Comments=NASTY,
    )
    assert len(created["RequestId"]) == 36
    user = created["User"]
    assert user["UserName"] == name
    assert re.fullmatch(r"\d{16}", user["UserId"])
    assert user["DisplayName"] == "张三"
    assert user["MobilePhone"] == "86-18600008888"
    assert user["Email"] == "alice@example.com"
    assert user["Comments"] == NASTY
    assert DATE.match(user["CreateDate"])
    assert "UpdateDate" not in user

    got = ram.call("GetUser", UserName=name)["User"]
    assert got["UserId"] == user["UserId"]
    assert DATE.match(got["UpdateDate"])
    assert got["Comments"] == NASTY

    new = unique_name("renamed")
    updated = ram.call("UpdateUser", UserName=name, NewUserName=new, NewDisplayName="Alice-Z", NewComments="new")["User"]
    assert updated["UserName"] == new
    assert updated["DisplayName"] == "Alice-Z"
    assert updated["Comments"] == "new"
    assert updated["UserId"] == user["UserId"]
    expect_error(lambda: ram.call("GetUser", UserName=name), "EntityNotExist.User", 404)

    deleted = ram.call("DeleteUser", UserName=new)
    assert set(deleted) == {"RequestId"}
    expect_error(lambda: ram.call("DeleteUser", UserName=new), "EntityNotExist.User", 404)


def test_list_users_paging(ram, root_json):
    prefix = unique_name("page")
    names = [f"{prefix}-{i}" for i in range(7)]
    for n in names:
        root_json.call("CreateUser", UserName=n)
    seen, marker, pages = [], None, 0
    while True:
        params = {"MaxItems": 3}
        if marker:
            params["Marker"] = marker
        page = ram.call("ListUsers", **params)
        pages += 1
        users = page.get("Users") or {}
        users = users.get("User", []) if isinstance(users, dict) else []
        assert len(users) <= 3
        seen.extend(u["UserName"] for u in users)
        if truthy(page["IsTruncated"]):
            marker = page["Marker"]
        else:
            assert "Marker" not in page or not page["Marker"]
            break
    mine = [n for n in seen if n.startswith(prefix)]
    assert mine == names, "every user exactly once, in creation order"
    assert len(seen) == len(set(seen))


def test_validation_errors(ram):
    cases = [
        ({"UserName": "with space"}, "InvalidParameter.UserName.InvalidChars"),
        ({"UserName": "x" * 65}, "InvalidParameter.UserName.Length"),
        ({"UserName": unique_name(), "DisplayName": "Alice Zhang"}, "InvalidParameter.DisplayName.InvalidChars"),
        ({"UserName": unique_name(), "DisplayName": "张" * 129}, "InvalidParameter.DisplayName.Length"),
        ({"UserName": unique_name(), "MobilePhone": "18600008888"}, "InvalidParameter.MobilePhone.Format"),
        ({"UserName": unique_name(), "Email": "not-an-email"}, "InvalidParameter.Email.Format"),
        ({"UserName": unique_name(), "Comments": "c" * 129}, "InvalidParameter.Comments.Length"),
    ]
    for params, code in cases:
        err = expect_error(lambda: ram.call("CreateUser", **params), code, 400)
        assert err.message and "parameter" in err.message


def test_duplicates_and_conflicts(ram):
    name = unique_name("Dup")
    ram.call("CreateUser", UserName=name)
    err = expect_error(lambda: ram.call("CreateUser", UserName=name.lower()), "EntityAlreadyExists.User", 409)
    assert err.message == "The user does already EXIST."
    other = unique_name("other")
    ram.call("CreateUser", UserName=other)
    expect_error(lambda: ram.call("UpdateUser", UserName=other, NewUserName=name), "EntityAlreadyExists.User", 409)
    expect_error(lambda: ram.call("UpdateUser", UserName=unique_name("ghost")), "EntityNotExist.User", 404)


def test_list_users_parameter_errors(ram):
    expect_error(lambda: ram.call("ListUsers", MaxItems=0), "InvalidParameter.MaxItems", 400)
    expect_error(lambda: ram.call("ListUsers", MaxItems=1001), "InvalidParameter.MaxItems", 400)
    expect_error(lambda: ram.call("ListUsers", Marker="garbage-marker"), "InvalidParameter.Marker", 400)
