"""One identity across faces, driven by the official RAM SDKs on one side
and plain HTTP (as CertCentral scripts do) on the other: a user added
through CertCentral is the RAM user GetUser returns, and a RAM user is
listed by CertCentral."""

from sdk_clients import expect_error, items, unique_name


def add_cc_user(certcentral, username, **extra):
    body = {
        "username": username,
        "first_name": "Jill",
        "last_name": "Valentine",
        "email": f"{username}@example.test",
        "access_roles": [{"id": 5}],
    }
    body.update(extra)
    status, reply = certcentral("POST", "/user", body)
    assert status == 201, reply
    assert list(reply) == ["id"]
    return reply["id"]


def test_certcentral_user_is_the_ram_user(ram, certcentral):
    name = unique_name("cc")
    uid = add_cc_user(certcentral, name, telephone="555-555-5555")
    user = ram.call("GetUser", UserName=name)["User"]
    assert user["UserName"] == name
    assert str(user["UserId"]) == str(uid)
    assert user["DisplayName"] == "Jill Valentine"
    assert user["Email"] == f"{name}@example.test"
    # Taken on RAM too, ignoring case.
    expect_error(lambda: ram.call("CreateUser", UserName=name.upper()), "EntityAlreadyExists.User", 409)


def test_ram_user_is_listed_by_certcentral(ram, certcentral):
    name = unique_name("ram")
    ram.call("CreateUser", UserName=name, DisplayName="RamMade", Email=f"{name}@example.test")
    status, listing = certcentral("GET", f"/user?filters%5Bsearch%5D={name}")
    assert status == 200, listing
    assert listing["page"]["total"] == 1
    item = listing["users"][0]
    assert item["username"] == name
    assert item["email"] == f"{name}@example.test"
    assert item["access_roles"] == [{"id": 5, "name": "Standard User"}]
    assert item["first_name"] == "RamMade"
    # An edit through CertCentral shows on RAM; RAM's own DisplayName stays.
    status, _ = certcentral("PUT", f"/user/{item['id']}", {"email": f"new.{name}@example.test", "first_name": "R"})
    assert status == 204
    user = ram.call("GetUser", UserName=name)["User"]
    assert user["Email"] == f"new.{name}@example.test"
    assert user["DisplayName"] == "RamMade"


def test_deleting_on_one_face_deletes_on_both(admin, certcentral):
    name = unique_name("del")
    uid = add_cc_user(certcentral, name)
    admin.call("DeleteUser", UserName=name)
    status, reply = certcentral("GET", f"/user/{uid}")
    assert status == 404 and reply["errors"][0]["code"] == "not_found|user"
    name = unique_name("del")
    uid = add_cc_user(certcentral, name)
    status, _ = certcentral("DELETE", f"/user/{uid}")
    assert status == 204
    expect_error(lambda: admin.call("GetUser", UserName=name), "EntityNotExist.User", 404)


def test_ram_lists_certcentral_usernames_it_could_not_create(admin, certcentral):
    name = unique_name("plus") + "+ops"
    add_cc_user(certcentral, name)
    names = set()
    marker = None
    while True:
        params = {"MaxItems": "1000"}
        if marker:
            params["Marker"] = marker
        body = admin.call("ListUsers", **params)
        names |= {u["UserName"] for u in items(body, "Users", "User")}
        if str(body.get("IsTruncated")).lower() != "true":
            break
        marker = body["Marker"]
    assert name in names
    expect_error(lambda: admin.call("GetUser", UserName=name), "InvalidParameter.UserName.InvalidChars", 400)


def test_wrong_devkey(certcentral):
    status, reply = certcentral("GET", "/user/me", key="wrong-key")
    assert status == 403
    assert reply == {
        "errors": [
            {
                "code": "access_denied|access_denied_invalid_key",
                "message": "Access denied due to access_denied_invalid_key.",
            }
        ]
    }
