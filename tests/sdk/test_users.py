"""RAM users through every client kind: CreateUser, GetUser, UpdateUser,
DeleteUser, ListUsers (reference e.1-e.5) and their validation errors."""

import pytest

from sdk_clients import check_date, check_request_id, check_user_id, expect_error, items, truthy, unique_name

# Every character the V1/ACS3 encoders treat specially, then XML specials, CJK, emoji.
NASTY = "a&b=c%d!e'f(g)h*i~j k+l/m:n,o;p@q[r]s{t}u|v^w`x\"y<z>?#中文注释😀🚀"
CREATE_FIELDS = {"UserId", "UserName", "DisplayName", "MobilePhone", "Email", "Comments", "CreateDate"}
GET_FIELDS = CREATE_FIELDS | {"UpdateDate"}  # + LastLoginDate once the user logged in: never here
LIST_FIELDS = GET_FIELDS
UPDATE_FIELDS = GET_FIELDS


def msg_invalid_chars(param):
    return f'The parameter - "{param}" contains invalid chars.'


def msg_length(param):
    return f'The parameter - "{param}" beyond the length limit.'


def msg_format(param):
    return f'The format of the parameter - "{param}" is incorrect.'


def create_full(ram, name, **overrides):
    params = dict(
        UserName=name,
        DisplayName="张三",
        MobilePhone="86-18600008888",
        Email="zhangsan@example.com",
        Comments=NASTY,
    )
    params.update(overrides)
    return ram.call("CreateUser", **params)


def list_all_users(ram, page_size):
    """Follow Marker until IsTruncated is false; returns (names, pages)."""
    names, pages, marker = [], [], None
    while True:
        params = {"MaxItems": page_size}
        if marker is not None:
            params["Marker"] = marker
        page = ram.call("ListUsers", **params)
        check_request_id(page)
        users = items(page, "Users", "User")
        pages.append(users)
        assert len(users) <= page_size
        names.extend(u["UserName"] for u in users)
        if truthy(page["IsTruncated"]):
            marker = page.get("Marker")
            assert marker, "IsTruncated=true needs a Marker"
        else:
            assert "Marker" not in page, "Marker only when IsTruncated=true"
            return names, pages
        assert len(pages) < 1000, "paging does not end"


# --------------------------------------------------------------------------
# CreateUser / GetUser / UpdateUser / DeleteUser


def test_create_user_all_fields(ram):
    name = unique_name("u")
    body = create_full(ram, name)
    check_request_id(body)
    assert set(body) == {"RequestId", "User"}
    user = body["User"]
    assert set(user) == CREATE_FIELDS, "CreateUser returns exactly these fields (e.1)"
    check_user_id(user["UserId"])
    assert user["UserName"] == name
    assert user["DisplayName"] == "张三"
    assert user["MobilePhone"] == "86-18600008888"
    assert user["Email"] == "zhangsan@example.com"
    assert user["Comments"] == NASTY
    check_date(user["CreateDate"])


def test_create_user_only_name_omits_unset_fields(ram):
    name = unique_name("bare")
    user = ram.call("CreateUser", UserName=name)["User"]
    assert set(user) == {"UserId", "UserName", "CreateDate"}, "unset attributes are omitted"
    got = ram.call("GetUser", UserName=name)["User"]
    assert set(got) == {"UserId", "UserName", "CreateDate", "UpdateDate"}


@pytest.mark.parametrize(
    "comments",
    ["c" * 128, "注" * 128, "😀" * 128, "", " leading and trailing spaces "],
    ids=["128-ascii", "128-cjk", "128-emoji", "empty", "spaces"],
)
def test_create_user_comments_edge_values(ram, comments):
    name = unique_name("cm")
    user = ram.call("CreateUser", UserName=name, Comments=comments)["User"]
    got = ram.call("GetUser", UserName=name)["User"]
    if comments:
        assert user["Comments"] == comments
        assert got["Comments"] == comments
    else:
        assert user.get("Comments", "") == ""


def test_get_user(ram):
    name = unique_name("g")
    created = create_full(ram, name)["User"]
    body = ram.call("GetUser", UserName=name)
    check_request_id(body)
    assert set(body) == {"RequestId", "User"}
    user = body["User"]
    assert set(user) == GET_FIELDS, "GetUser fields (e.2; no LastLoginDate without a console login)"
    for field in CREATE_FIELDS:
        assert user[field] == created[field], field
    check_date(user["UpdateDate"])
    assert user["UpdateDate"] >= user["CreateDate"]


def test_user_names_are_case_insensitive(ram):
    name = unique_name("Mixed")
    created = ram.call("CreateUser", UserName=name)["User"]
    got = ram.call("GetUser", UserName=name.upper())["User"]
    assert got["UserId"] == created["UserId"]
    assert got["UserName"] == name, "the stored spelling is reported"
    expect_error(
        lambda: ram.call("CreateUser", UserName=name.lower()),
        "EntityAlreadyExists.User",
        409,
        "The user does already EXIST.",
    )


def test_update_user_every_field_and_rename(ram):
    name = unique_name("up")
    created = create_full(ram, name)["User"]
    new_name = unique_name("renamed")
    body = ram.call(
        "UpdateUser",
        UserName=name,
        NewUserName=new_name,
        NewDisplayName="李四",
        NewMobilePhone="1-5550100123",
        NewEmail="lisi@example.org",
        NewComments="new 😀 & <comment>",
    )
    check_request_id(body)
    assert set(body) == {"RequestId", "User"}
    user = body["User"]
    assert set(user) == UPDATE_FIELDS, "UpdateUser returns the user after the update (e.3)"
    assert user["UserId"] == created["UserId"]
    assert user["UserName"] == new_name
    assert user["DisplayName"] == "李四"
    assert user["MobilePhone"] == "1-5550100123"
    assert user["Email"] == "lisi@example.org"
    assert user["Comments"] == "new 😀 & <comment>"
    assert user["CreateDate"] == created["CreateDate"]
    check_date(user["UpdateDate"])
    assert user["UpdateDate"] >= user["CreateDate"]

    assert ram.call("GetUser", UserName=new_name)["User"] == {**user}
    expect_error(lambda: ram.call("GetUser", UserName=name), "EntityNotExist.User", 404, "The user does not exist.")
    # the old name is free again
    again = ram.call("CreateUser", UserName=name)["User"]
    assert again["UserId"] != created["UserId"]


def test_update_user_partial_keeps_other_fields(ram):
    name = unique_name("part")
    created = create_full(ram, name)["User"]
    user = ram.call("UpdateUser", UserName=name, NewComments="only this")["User"]
    assert user["Comments"] == "only this"
    for field in ("UserId", "UserName", "DisplayName", "MobilePhone", "Email", "CreateDate"):
        assert user[field] == created[field], field


def test_update_user_rename_changing_only_case(ram):
    name = unique_name("case")
    ram.call("CreateUser", UserName=name)
    user = ram.call("UpdateUser", UserName=name, NewUserName=name.upper())["User"]
    assert user["UserName"] == name.upper()
    assert ram.call("GetUser", UserName=name)["User"]["UserName"] == name.upper()


def test_delete_user(ram):
    name = unique_name("del")
    ram.call("CreateUser", UserName=name)
    body = ram.call("DeleteUser", UserName=name)
    check_request_id(body)
    assert set(body) == {"RequestId"}
    expect_error(lambda: ram.call("GetUser", UserName=name), "EntityNotExist.User", 404, "The user does not exist.")
    expect_error(lambda: ram.call("DeleteUser", UserName=name), "EntityNotExist.User", 404, "The user does not exist.")


# --------------------------------------------------------------------------
# ListUsers


def test_list_users_paging(ram, admin):
    prefix = unique_name("page")
    created = [admin.call("CreateUser", UserName=f"{prefix}-{i}", Comments=f"#{i}")["User"] for i in range(7)]
    names, pages = list_all_users(ram, 3)
    assert len(names) == len(set(names)), "no user is listed twice"
    mine = [n for n in names if n.startswith(prefix)]
    assert mine == [u["UserName"] for u in created], "every user seen once, in a stable (creation) order"
    assert len(pages) >= 3
    for page in pages[:-1]:
        assert len(page) == 3, "a truncated page is full"

    # the listed entries carry the documented fields
    by_name = {}
    for page in pages:
        for u in page:
            by_name[u["UserName"]] = u
    for u in created:
        listed = by_name[u["UserName"]]
        assert set(listed) == {"UserId", "UserName", "Comments", "CreateDate", "UpdateDate"}
        assert listed["UserId"] == u["UserId"]
        assert listed["Comments"] == u["Comments"]
        assert listed["CreateDate"] == u["CreateDate"]
        check_date(listed["UpdateDate"])


def test_list_users_paging_survives_deletes(ram, admin):
    """Deleting the user a Marker was taken after does not break paging."""
    prefix = unique_name("pgdel")
    names = [f"{prefix}-{i}" for i in range(6)]
    for n in names:
        admin.call("CreateUser", UserName=n)
    seen, marker, deleted = [], None, set()
    while True:
        params = {"MaxItems": 2} if marker is None else {"MaxItems": 2, "Marker": marker}
        page = ram.call("ListUsers", **params)
        users = [u["UserName"] for u in items(page, "Users", "User")]
        seen.extend(users)
        mine = [u for u in users if u.startswith(prefix)]
        if mine and not deleted:
            # delete the last entry of this page (where the marker points)
            admin.call("DeleteUser", UserName=mine[-1])
            deleted.add(mine[-1])
        if not truthy(page["IsTruncated"]):
            break
        marker = page["Marker"]
    assert len(seen) == len(set(seen))
    assert [n for n in seen if n.startswith(prefix)] == names


def test_list_users_full_fields_and_one_page(ram, admin):
    name = unique_name("lf")
    created = create_full(admin, name)["User"]
    body = ram.call("ListUsers", MaxItems=1000)
    check_request_id(body)
    assert not truthy(body["IsTruncated"])
    assert "Marker" not in body
    listed = {u["UserName"]: u for u in items(body, "Users", "User")}
    assert set(listed[name]) == LIST_FIELDS
    for field in CREATE_FIELDS:
        assert listed[name][field] == created[field], field


def test_list_users_default_page_size(ram, admin):
    body = ram.call("ListUsers")
    users = items(body, "Users", "User")
    assert len(users) <= 100, "MaxItems defaults to 100"
    if truthy(body["IsTruncated"]):
        assert len(users) == 100


def test_list_users_single_item_is_still_a_list(ram, admin):
    # MaxItems=1 gives one entry: it must still be {"Users": {"User": [...]}}
    body = ram.call("ListUsers", MaxItems=1)
    users = items(body, "Users", "User")
    assert isinstance(users, list) and len(users) == 1


# --------------------------------------------------------------------------
# validation errors


CREATE_ERRORS = [
    ("space-in-name", {"UserName": "with space"}, "InvalidParameter.UserName.InvalidChars", msg_invalid_chars("UserName")),
    ("slash-in-name", {"UserName": "a/b"}, "InvalidParameter.UserName.InvalidChars", msg_invalid_chars("UserName")),
    ("cjk-in-name", {"UserName": "张三"}, "InvalidParameter.UserName.InvalidChars", msg_invalid_chars("UserName")),
    ("65-char-name", {"UserName": "x" * 65}, "InvalidParameter.UserName.Length", msg_length("UserName")),
    ("empty-name", {"UserName": ""}, "InvalidParameter.UserName.Length", msg_length("UserName")),
    ("underscore-in-display", {"DisplayName": "Zhang_San"}, "InvalidParameter.DisplayName.InvalidChars", msg_invalid_chars("DisplayName")),
    ("emoji-in-display", {"DisplayName": "张三😀"}, "InvalidParameter.DisplayName.InvalidChars", msg_invalid_chars("DisplayName")),
    ("space-in-display", {"DisplayName": "Zhang San"}, "InvalidParameter.DisplayName.InvalidChars", msg_invalid_chars("DisplayName")),
    ("129-char-display", {"DisplayName": "张" * 129}, "InvalidParameter.DisplayName.Length", msg_length("DisplayName")),
    ("phone-no-country", {"MobilePhone": "18600008888"}, "InvalidParameter.MobilePhone.Format", msg_format("MobilePhone")),
    ("phone-letters", {"MobilePhone": "86-1860000abcd"}, "InvalidParameter.MobilePhone.Format", msg_format("MobilePhone")),
    ("email-no-at", {"Email": "not-an-email"}, "InvalidParameter.Email.Format", msg_format("Email")),
    ("email-no-domain", {"Email": "alice@"}, "InvalidParameter.Email.Format", msg_format("Email")),
    ("129-char-comments", {"Comments": "c" * 129}, "InvalidParameter.Comments.Length", msg_length("Comments")),
    ("129-emoji-comments", {"Comments": "😀" * 129}, "InvalidParameter.Comments.Length", msg_length("Comments")),
]


@pytest.mark.parametrize("params,code,message", [c[1:] for c in CREATE_ERRORS], ids=[c[0] for c in CREATE_ERRORS])
def test_create_user_validation(ram, params, code, message):
    params = {"UserName": unique_name("v"), **params}
    expect_error(lambda: ram.call("CreateUser", **params), code, 400, message)
    if params["UserName"].startswith("v-"):
        expect_error(lambda: ram.call("GetUser", UserName=params["UserName"]), "EntityNotExist.User", 404)


def test_create_user_64_char_name_is_fine(ram):
    name = unique_name("long")
    name = name + "x" * (64 - len(name))
    assert ram.call("CreateUser", UserName=name)["User"]["UserName"] == name


def test_create_user_without_name(ram):
    expect_error(
        lambda: ram.call("CreateUser", DisplayName="nobody"),
        "MissingParameter",
        400,
        'The input parameter "UserName" that is mandatory for processing this request is not supplied.',
    )


UPDATE_ERRORS = [
    ("new-name-space", {"NewUserName": "a b"}, "InvalidParameter.NewUserName.InvalidChars", msg_invalid_chars("NewUserName")),
    ("new-name-65", {"NewUserName": "y" * 65}, "InvalidParameter.NewUserName.Length", msg_length("NewUserName")),
    ("new-display-space", {"NewDisplayName": "a b"}, "InvalidParameter.NewDisplayName.InvalidChars", msg_invalid_chars("NewDisplayName")),
    ("new-display-129", {"NewDisplayName": "d" * 129}, "InvalidParameter.NewDisplayName.Length", msg_length("NewDisplayName")),
    ("new-phone", {"NewMobilePhone": "phone"}, "InvalidParameter.NewMobilePhone.Format", msg_format("NewMobilePhone")),
    ("new-email", {"NewEmail": "mail"}, "InvalidParameter.NewEmail.Format", msg_format("NewEmail")),
    ("new-comments-129", {"NewComments": "c" * 129}, "InvalidParameter.NewComments.Length", msg_length("NewComments")),
]


@pytest.mark.parametrize("params,code,message", [c[1:] for c in UPDATE_ERRORS], ids=[c[0] for c in UPDATE_ERRORS])
def test_update_user_validation(ram, admin, params, code, message):
    name = unique_name("uv")
    admin.call("CreateUser", UserName=name)
    expect_error(lambda: ram.call("UpdateUser", UserName=name, **params), code, 400, message)


@pytest.mark.parametrize("action", ["GetUser", "UpdateUser", "DeleteUser", "CreateAccessKey", "ListAccessKeys"])
def test_bad_user_name_on_other_actions(ram, action):
    expect_error(
        lambda: ram.call(action, UserName="bad name"),
        "InvalidParameter.UserName.InvalidChars",
        400,
        msg_invalid_chars("UserName"),
    )
    expect_error(lambda: ram.call(action, UserName="n" * 65), "InvalidParameter.UserName.Length", 400, msg_length("UserName"))


def test_duplicate_user(ram):
    name = unique_name("Dup")
    ram.call("CreateUser", UserName=name)
    for clash in (name, name.lower(), name.upper()):
        expect_error(
            lambda: ram.call("CreateUser", UserName=clash),
            "EntityAlreadyExists.User",
            409,
            "The user does already EXIST.",
        )


def test_update_user_name_collision(ram, admin):
    taken, other = unique_name("taken"), unique_name("other")
    admin.call("CreateUser", UserName=taken)
    admin.call("CreateUser", UserName=other)
    for clash in (taken, taken.upper()):
        expect_error(
            lambda: ram.call("UpdateUser", UserName=other, NewUserName=clash),
            "EntityAlreadyExists.User",
            409,
            "The user does already EXIST.",
        )
    assert ram.call("GetUser", UserName=other)["User"]["UserName"] == other


def test_unknown_user(ram):
    ghost = unique_name("ghost")
    for action, extra in (("GetUser", {}), ("UpdateUser", {"NewComments": "x"}), ("DeleteUser", {})):
        expect_error(
            lambda: ram.call(action, UserName=ghost, **extra), "EntityNotExist.User", 404, "The user does not exist."
        )


@pytest.mark.parametrize("max_items", [0, 1001, -1, "abc"])
def test_list_users_bad_max_items(ram, max_items):
    expect_error(
        lambda: ram.call("ListUsers", MaxItems=max_items),
        "InvalidParameter.MaxItems",
        400,
        'The parameter - "MaxItems" is invalid.',
    )


@pytest.mark.parametrize("marker", ["garbage-marker", "AAAA", "%%%"])
def test_list_users_bad_marker(ram, marker):
    expect_error(lambda: ram.call("ListUsers", Marker=marker), "InvalidParameter.Marker", 400)
