"""RAM groups, policies and attachments through every client kind
(reference e.11, e.12): every action, its shapes and its errors, and a
user whose key gains and loses rights as policies are attached and
detached."""

import json

import pytest

from sdk_clients import check_date, check_request_id, expect_error, items, truthy, unique_name

ALLOW_GET_USER = json.dumps(
    {"Version": "1", "Statement": [{"Effect": "Allow", "Action": "ram:GetUser", "Resource": "*"}]},
    separators=(",", ":"),
)


@pytest.fixture
def group(admin):
    name = unique_name("grp")
    admin.call("CreateGroup", GroupName=name)
    yield name
    # Groups count against a limit of 50 per account: always clean up.
    for m in items(admin.call("ListUsersForGroup", GroupName=name), "Users", "User"):
        admin.call("RemoveUserFromGroup", GroupName=name, UserName=m["UserName"])
    for p in items(admin.call("ListPoliciesForGroup", GroupName=name), "Policies", "Policy"):
        admin.call("DetachPolicyFromGroup", GroupName=name, PolicyType=p["PolicyType"], PolicyName=p["PolicyName"])
    admin.call("DeleteGroup", GroupName=name)


@pytest.fixture
def user(admin):
    name = unique_name("iam")
    admin.call("CreateUser", UserName=name)
    return name


@pytest.fixture
def policy(admin):
    name = unique_name("pol")
    admin.call("CreatePolicy", PolicyName=name, PolicyDocument=ALLOW_GET_USER, Description="reads users")
    return name


def test_group_crud(ram):
    name = unique_name("g")
    body = ram.call("CreateGroup", GroupName=name, Comments="the team")
    check_request_id(body)
    g = body["Group"]
    assert set(g) == {"GroupId", "GroupName", "Comments", "CreateDate"}
    assert g["GroupName"] == name
    check_date(g["CreateDate"])
    got = ram.call("GetGroup", GroupName=name.upper())["Group"]
    assert got["GroupName"] == name and "UpdateDate" in got
    new = unique_name("g")
    upd = ram.call("UpdateGroup", GroupName=name, NewGroupName=new, NewComments="renamed")["Group"]
    assert (upd["GroupName"], upd["Comments"]) == (new, "renamed")
    listed = [x["GroupName"] for x in items(ram.call("ListGroups", MaxItems=100), "Groups", "Group")]
    assert new in listed
    assert set(ram.call("DeleteGroup", GroupName=new)) == {"RequestId"}
    expect_error(lambda: ram.call("GetGroup", GroupName=new), "EntityNotExist.Group", 404, "The group does not exist.")


def test_group_errors(ram, group):
    expect_error(lambda: ram.call("CreateGroup", GroupName=group), "EntityAlreadyExists.Group", 409)
    expect_error(lambda: ram.call("CreateGroup", GroupName="no spaces"), "InvalidParameter.GroupName.InvalidChars", 400)
    expect_error(lambda: ram.call("CreateGroup", GroupName="x" * 65), "InvalidParameter.GroupName.Length", 400)
    expect_error(lambda: ram.call("DeleteGroup", GroupName=unique_name("none")), "EntityNotExist.Group", 404)


def test_membership(ram, group, user):
    assert set(ram.call("AddUserToGroup", GroupName=group, UserName=user)) == {"RequestId"}
    expect_error(
        lambda: ram.call("AddUserToGroup", GroupName=group, UserName=user),
        "EntityAlreadyExists.User.Group",
        409,
        "The user has already joined the group.",
    )
    expect_error(lambda: ram.call("DeleteGroup", GroupName=group), "DeleteConflict.Group.User", 409)
    joined = items(ram.call("ListGroupsForUser", UserName=user), "Groups", "Group")
    assert [j["GroupName"] for j in joined] == [group]
    check_date(joined[0]["JoinDate"])
    members = ram.call("ListUsersForGroup", GroupName=group, MaxItems=10)
    assert [m["UserName"] for m in items(members, "Users", "User")] == [user]
    assert not truthy(members["IsTruncated"])
    ram.call("RemoveUserFromGroup", GroupName=group, UserName=user)
    expect_error(lambda: ram.call("RemoveUserFromGroup", GroupName=group, UserName=user), "EntityNotExist.User.Group", 404)
    expect_error(lambda: ram.call("ListGroupsForUser", UserName=unique_name("none")), "EntityNotExist.User", 404)


def test_policy_and_versions(ram):
    name = unique_name("p")
    p = ram.call("CreatePolicy", PolicyName=name, PolicyDocument=ALLOW_GET_USER, Description="d")["Policy"]
    assert (p["PolicyName"], p["PolicyType"], p["DefaultVersion"]) == (name, "Custom", "v1")
    got = ram.call("GetPolicy", PolicyName=name, PolicyType="Custom")
    assert got["DefaultPolicyVersion"]["PolicyDocument"] == ALLOW_GET_USER
    assert truthy(got["DefaultPolicyVersion"]["IsDefaultVersion"])
    assert str(got["Policy"]["AttachmentCount"]) == "0"
    assert ram.call("UpdatePolicyDescription", PolicyName=name, NewDescription="new")["Policy"]["Description"] == "new"
    v2 = ram.call("CreatePolicyVersion", PolicyName=name, PolicyDocument=ALLOW_GET_USER, SetAsDefault=True)["PolicyVersion"]
    assert v2["VersionId"] == "v2" and truthy(v2["IsDefaultVersion"])
    versions = items(ram.call("ListPolicyVersions", PolicyName=name, PolicyType="Custom"), "PolicyVersions", "PolicyVersion")
    assert [v["VersionId"] for v in versions] == ["v1", "v2"]
    one = ram.call("GetPolicyVersion", PolicyName=name, PolicyType="Custom", VersionId="v1")["PolicyVersion"]
    assert not truthy(one["IsDefaultVersion"])
    expect_error(lambda: ram.call("DeletePolicyVersion", PolicyName=name, VersionId="v2"), "DeleteConflict.Policy.Version.Default", 409)
    ram.call("SetDefaultPolicyVersion", PolicyName=name, VersionId="v1")
    ram.call("DeletePolicyVersion", PolicyName=name, VersionId="v2")
    expect_error(
        lambda: ram.call("GetPolicyVersion", PolicyName=name, PolicyType="Custom", VersionId="v2"),
        "EntityNotExist.Policy.Version",
        404,
    )
    listed = items(ram.call("ListPolicies", PolicyType="Custom", MaxItems=1000), "Policies", "Policy")
    assert name in [x["PolicyName"] for x in listed]
    ram.call("DeletePolicy", PolicyName=name)
    expect_error(lambda: ram.call("GetPolicy", PolicyName=name, PolicyType="Custom"), "EntityNotExist.Policy", 404)


def test_policy_errors(ram, policy):
    expect_error(lambda: ram.call("CreatePolicy", PolicyName=policy, PolicyDocument=ALLOW_GET_USER), "EntityAlreadyExists.Policy", 409)
    err = expect_error(
        lambda: ram.call("CreatePolicy", PolicyName=unique_name("p"), PolicyDocument='{"Version":"1","Statement":[{"Effect":"Allowed","Action":"*","Resource":"*"}]}'),
        "MalformedPolicyDocument",
        400,
    )
    assert "Effect" in err.message
    expect_error(lambda: ram.call("GetPolicy", PolicyName=policy, PolicyType="Nope"), "InvalidParameter.PolicyType", 400)
    expect_error(lambda: ram.call("CreatePolicy", PolicyName="under_score", PolicyDocument=ALLOW_GET_USER), "InvalidParameter.PolicyName.InvalidChars", 400)


def test_system_policies(ram):
    listed = items(ram.call("ListPolicies", PolicyType="System", MaxItems=1000), "Policies", "Policy")
    names = {p["PolicyName"] for p in listed}
    assert {"AdministratorAccess", "ReadOnlyAccess", "AliyunRAMFullAccess", "AliyunRAMReadOnlyAccess", "AliyunYundunCertFullAccess", "AliyunYundunCertReadOnlyAccess"} <= names
    assert all(p["PolicyType"] == "System" for p in listed)
    got = ram.call("GetPolicy", PolicyName="AdministratorAccess", PolicyType="System")
    doc = json.loads(got["DefaultPolicyVersion"]["PolicyDocument"])
    assert doc["Statement"][0]["Action"] == "*"
    expect_error(lambda: ram.call("DeletePolicy", PolicyName="AdministratorAccess"), "EntityNotExist.Policy", 404)


def test_attachments(ram, user, group, policy):
    ram.call("AttachPolicyToUser", PolicyType="Custom", PolicyName=policy, UserName=user)
    expect_error(lambda: ram.call("AttachPolicyToUser", PolicyType="Custom", PolicyName=policy, UserName=user), "EntityAlreadyExists.User.Policy", 409)
    ram.call("AttachPolicyToGroup", PolicyType="System", PolicyName="ReadOnlyAccess", GroupName=group)
    expect_error(lambda: ram.call("AttachPolicyToGroup", PolicyType="System", PolicyName="ReadOnlyAccess", GroupName=group), "EntityAlreadyExists.Group.Policy", 409)
    attached = items(ram.call("ListPoliciesForUser", UserName=user), "Policies", "Policy")
    assert [(a["PolicyName"], a["PolicyType"]) for a in attached] == [(policy, "Custom")]
    check_date(attached[0]["AttachDate"])
    assert [a["PolicyName"] for a in items(ram.call("ListPoliciesForGroup", GroupName=group), "Policies", "Policy")] == ["ReadOnlyAccess"]
    ents = ram.call("ListEntitiesForPolicy", PolicyType="Custom", PolicyName=policy)
    assert [u["UserName"] for u in items(ents, "Users", "User")] == [user]
    assert items(ents, "Groups", "Group") == []
    expect_error(lambda: ram.call("DeletePolicy", PolicyName=policy), "DeleteConflict.Policy.User", 409)
    ram.call("DetachPolicyFromUser", PolicyType="Custom", PolicyName=policy, UserName=user)
    expect_error(lambda: ram.call("DetachPolicyFromUser", PolicyType="Custom", PolicyName=policy, UserName=user), "EntityNotExist.User.Policy", 404)
    ram.call("DetachPolicyFromGroup", PolicyType="System", PolicyName="ReadOnlyAccess", GroupName=group)
    expect_error(lambda: ram.call("AttachPolicyToUser", PolicyType="Custom", PolicyName=unique_name("none"), UserName=user), "EntityNotExist.Policy", 404)


def test_rights_follow_attached_policies(admin, kind, client_for, user, group, policy):
    key = admin.call("CreateAccessKey", UserName=user)["AccessKey"]
    as_user = client_for(kind, key["AccessKeyId"], key["AccessKeySecret"])
    expect_error(lambda: as_user.call("GetUser", UserName=user), "NoPermission", 403)
    admin.call("AttachPolicyToUser", PolicyType="Custom", PolicyName=policy, UserName=user)
    assert as_user.call("GetUser", UserName=user)["User"]["UserName"] == user
    expect_error(lambda: as_user.call("ListUsers"), "NoPermission", 403)
    admin.call("AddUserToGroup", GroupName=group, UserName=user)
    admin.call("AttachPolicyToGroup", PolicyType="System", PolicyName="AliyunRAMReadOnlyAccess", GroupName=group)
    as_user.call("ListUsers", MaxItems=1)
    admin.call("DetachPolicyFromUser", PolicyType="Custom", PolicyName=policy, UserName=user)
    as_user.call("GetUser", UserName=user)  # still allowed through the group (ram:Get*)
    admin.call("RemoveUserFromGroup", GroupName=group, UserName=user)
    expect_error(lambda: as_user.call("GetUser", UserName=user), "NoPermission", 403)
    expect_error(lambda: as_user.call("ListUsers"), "NoPermission", 403)
