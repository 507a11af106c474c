"""SCIM 2.0 end to end (RFC 7643/7644, and what Okta's and Entra ID's
provisioning clients send): bearer tokens, /Users and /Groups, filters and
pagination, PATCH in both client shapes, errors, pre-provisioning and
immediate deprovisioning, on one and on two front ends sharing Redis.
Each refusal sits next to the request that succeeds."""
import json
import os
import time
import uuid

import pytest
import requests

import harness
from harness import EMAIL, Browser, env_of, record
from scimclient import (ENTERPRISE, GROUP, LISTRESP, PATCHOP, SCIM, USER,
                        Scim, scim_error, scim_location, sha256,
                        user_body, write_tokens)

GROUPS_ATTR = "http://schemas.microsoft.com/ws/2008/06/identity/claims/groups"

SSI = """REMOTE_USER=<!--#echo var="REMOTE_USER" -->
QSSO_EMAIL=<!--#echo var="QSSO_EMAIL" -->
QSSO_FIRST_NAME=<!--#echo var="QSSO_FIRST_NAME" -->
QSSO_USER_TYPE=<!--#echo var="QSSO_USER_TYPE" -->
QSSO_DIVISION=<!--#echo var="QSSO_DIVISION" -->
QSSO_GROUPS=<!--#echo var="QSSO_GROUPS" -->
QSSO_UNIQUE_ID=<!--#echo var="QSSO_UNIQUE_ID" -->
"""


TOKEN = "t0k-" + uuid.uuid4().hex + uuid.uuid4().hex
ROTATED = "r0t-" + uuid.uuid4().hex + uuid.uuid4().hex


@pytest.fixture(scope="module")
def site(servers, workdir):
    tokens = write_tokens(workdir, sha256(TOKEN),
                          "# the next token, for rotation",
                          sha256(ROTATED) + "  -")
    h = servers.start(qsso={"QSSOGroupAttribute": GROUPS_ATTR},
                      extra=scim_location(tokens))
    with open(h.docroot + "/dash/index.shtml", "w") as f:
        f.write(SSI)
    return h


@pytest.fixture
def scim(site):
    return Scim(site, TOKEN)


# ---- bearer tokens ------------------------------------------------------

def test_a_listed_token_is_accepted(scim):
    r = scim.get("/ServiceProviderConfig")
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "application/scim+json; charset=utf-8"


def test_the_rotated_second_token_is_accepted_too(scim):
    assert scim.get("/Users", token=ROTATED).status_code == 200


@pytest.mark.parametrize("auth", [
    None,
    "Bearer wrong-token",
    "Bearer " + TOKEN + "x",
    "Bearer " + TOKEN[:-1],
    "Basic " + TOKEN,
    "Bearer",
    "Bearer " + sha256(TOKEN),          # the hash is not the token
    "Bearer a b",
], ids=["none", "wrong", "longer", "shorter", "basic", "empty", "hash",
        "two-words"])
def test_anything_but_a_listed_token_is_401(site, scim, log, auth):
    log.expect("QSSO6001")
    h = {"Authorization": auth} if auth else {}
    r = requests.get(site.url(SCIM + "/Users"), headers=h, timeout=10)
    scim_error(r, 401)
    assert r.headers["WWW-Authenticate"].startswith(
        'Bearer realm="qsso-scim"')
    lines = [l for l in site.log() if "QSSO6001" in l]
    assert len(lines) == 1 and "[warn]" in lines[0]
    assert TOKEN not in lines[0] and TOKEN not in r.text


def test_a_session_cookie_does_not_reach_scim(site, scim, log):
    b = Browser(site)
    assert b.login().status_code == 303
    log.expect("QSSO6001")
    r = b.get(SCIM + "/Users")
    scim_error(r, 401)
    assert "Bearer" in r.headers["WWW-Authenticate"]
    # The same request with the token succeeds.
    assert b.get(SCIM + "/Users", headers={
        "Authorization": "Bearer " + TOKEN}).status_code == 200


def test_refused_token_is_checked_before_the_body_is_read(site, log):
    log.expect("QSSO6001")
    r = requests.post(site.url(SCIM + "/Users"), data="{not json",
                      headers={"Content-Type": "application/scim+json"},
                      timeout=10)
    scim_error(r, 401)


# ---- discovery -------------------------------------------------------------

def test_discovery_documents(scim):
    spc = scim.get("/ServiceProviderConfig").json()
    assert spc["patch"]["supported"] is True
    assert spc["filter"]["supported"] is True
    assert spc["etag"]["supported"] is True
    assert spc["bulk"]["supported"] is False
    assert spc["authenticationSchemes"][0]["type"] == "oauthbearertoken"
    types = scim.get("/ResourceTypes").json()
    assert types["schemas"] == [LISTRESP]
    assert {t["id"] for t in types["Resources"]} == {"User", "Group"}
    assert scim.get("/ResourceTypes/User").json()["endpoint"] == "/Users"
    schemas = scim.get("/Schemas").json()
    ids = {s["id"] for s in schemas["Resources"]}
    assert ids == {USER, ENTERPRISE, GROUP}
    user = scim.get("/Schemas/" + USER).json()
    names = {a["name"]: a for a in user["attributes"]}
    assert names["userName"]["uniqueness"] == "server"
    assert names["userName"]["required"] is True
    assert names["groups"]["mutability"] == "readOnly"


def test_unknown_paths_and_methods(scim):
    scim_error(scim.get("/Nothing"), 404)
    scim_error(scim.get("/Schemas/urn:nope"), 404)
    r = scim.request("DELETE", "/Users")
    scim_error(r, 405)
    assert r.headers["Allow"] == "GET, POST"
    scim_error(scim.request("POST", "/ServiceProviderConfig", {}), 405)
    scim_error(scim.request("PATCH", "/Users", {}), 405)


# ---- create and read ---------------------------------------------------------

def test_create_user_maps_every_attribute(scim, redis):
    name = "Ana.%s@Example.org" % uuid.uuid4().hex[:8]
    body = user_body(name, externalId="okta-00u1", userType="Employee",
                     displayName="Ana Lima", title="ignored",
                     phoneNumbers=[{"value": "+1 555", "type": "work"}])
    body[ENTERPRISE] = {"employeeNumber": "E-42", "division": "Research",
                        "department": "ignored"}
    r = scim.post("/Users", body)
    assert r.status_code == 201, r.text
    u = r.json()
    assert r.headers["Location"] == u["meta"]["location"]
    assert u["meta"]["location"].endswith(SCIM + "/Users/" + u["id"])
    assert u["meta"]["resourceType"] == "User"
    assert r.headers["ETag"] == u["meta"]["version"]
    assert u["meta"]["version"].startswith('W/"')
    assert u["meta"]["created"].endswith("Z")
    assert len(u["id"]) == 32
    assert u["userName"] == name and u["externalId"] == "okta-00u1"
    assert u["name"]["givenName"] == "Ana"
    assert u["name"]["familyName"] == "Lima"
    assert u["emails"] == [{"value": name, "type": "work", "primary": True}]
    assert u["active"] is True and u["userType"] == "Employee"
    assert u[ENTERPRISE] == {"employeeNumber": "E-42",
                             "division": "Research"}
    rec = record(redis, name)
    assert rec["source"] == "scim" and rec["ssoLinked"] is False
    assert rec["id"] == u["id"] and rec["email"] == name
    assert rec["uniqueId"] == "E-42" and rec["division"] == "Research"
    assert rec["firstName"] == "Ana" and rec["userType"] == "Employee"
    assert name.lower() in redis.cli("--raw", "SMEMBERS",
                                     "qsso:user-email:" + name.lower())
    events = redis.cli("--raw", "XRANGE", "qsso:events", "-", "+")
    assert "user.created" in events and "scim.post" in events


def test_get_user_by_id_and_missing_id_is_404(scim):
    u = scim.create()
    r = scim.get("/Users/" + u["id"])
    assert r.status_code == 200 and r.json()["userName"] == u["userName"]
    assert r.headers["ETag"] == u["meta"]["version"]
    doc = scim_error(scim.get("/Users/" + uuid.uuid4().hex), 404)
    assert "no user" in doc["detail"]
    scim_error(scim.get("/Users/" + "a" * 200), 404)
    scim_error(scim.get("/Users/x'y"), 404)


def test_jit_users_are_found_by_id_too(site, scim):
    email = "jit-%s@example.org" % uuid.uuid4().hex[:8]
    assert Browser(site).login(email=email).status_code == 303
    found = scim.query('userName eq "%s"' % email).json()["Resources"]
    assert len(found) == 1
    r = scim.get("/Users/" + found[0]["id"])
    assert r.status_code == 200 and r.json()["userName"] == email


def test_records_from_before_the_id_index_are_found(scim, redis):
    u = scim.create()
    redis.cli("DEL", "qsso:user-id:" + u["id"])
    assert scim.get("/Users/" + u["id"]).status_code == 200
    assert redis.cli("--raw", "GET", "qsso:user-id:" + u["id"]) == \
        u["userName"].lower()


def test_duplicate_username_is_409_case_insensitively(scim):
    u = scim.create()
    doc = scim_error(scim.post("/Users", user_body(u["userName"].upper())),
                     409, "uniqueness")
    assert "already taken" in doc["detail"]
    assert scim.post("/Users", user_body()).status_code == 201


@pytest.mark.parametrize("data,why", [
    ("{not json", "not JSON"),
    ('{"userName": "a", "userName": "b"}', "duplicate"),
    ("[1, 2]", "JSON object"),
    ("", "not JSON"),
    ('"text"', "not JSON"),
])
def test_bad_json_is_400_invalid_syntax(scim, data, why):
    r = scim.request("POST", "/Users", data=data, headers={
        "Content-Type": "application/scim+json"})
    doc = scim_error(r, 400, "invalidSyntax")
    assert why in doc["detail"], doc


def test_good_json_with_plain_json_content_type_is_accepted(scim):
    r = scim.request("POST", "/Users", data=json.dumps(user_body()),
                     headers={"Content-Type": "application/json"})
    assert r.status_code == 201


def test_other_content_types_are_refused(scim):
    r = scim.request("POST", "/Users", data=json.dumps(user_body()),
                     headers={"Content-Type": "text/plain"})
    scim_error(r, 415)


@pytest.mark.parametrize("body,scim_type", [
    ({"name": {"givenName": "x"}}, "invalidValue"),
    ({"userName": ""}, "invalidValue"),
    ({"userName": 42}, "invalidValue"),
    ({"userName": "a\nb@example.org"}, "invalidValue"),
    ({"userName": "x@example.org", "active": "maybe"}, "invalidValue"),
    ({"userName": "x@example.org", "emails": [{"value": "not-an-email"}]},
     "invalidValue"),
    ({"userName": "x@example.org", "emails": "x@example.org"},
     "invalidValue"),
])
def test_invalid_values_are_400(scim, body, scim_type):
    scim_error(scim.post("/Users", body), 400, scim_type)


def test_unknown_attributes_in_a_body_are_ignored(scim, redis):
    body = user_body(favouriteColour="blue")
    body["urn:example:custom:1.0:User"] = {"shoeSize": 44}
    body[ENTERPRISE] = {"costCenter": "CC-1", "unknownThing": "x"}
    r = scim.post("/Users", body)
    assert r.status_code == 201, r.text
    assert "favouriteColour" not in r.json()
    assert "favouriteColour" not in json.dumps(record(redis,
                                                      body["userName"]))


def test_oversized_body_is_413(scim, log):
    log.expect("AH00126|AH01587")       # httpd may note the closed stream
    big = json.dumps(user_body(title="x" * (1024 * 1024)))
    r = scim.request("POST", "/Users", data=big, headers={
        "Content-Type": "application/scim+json"})
    scim_error(r, 413)
    # Chunked, without a Content-Length: the read itself is capped.
    r = scim.request("POST", "/Users", data=iter([big[:600000].encode(),
                                                  big[600000:].encode()]),
                     headers={"Content-Type": "application/scim+json"})
    scim_error(r, 413)
    # Just under the cap is read and accepted.
    ok = json.dumps(user_body(title="x" * (1024 * 1024 - 600)))
    assert len(ok) < 1024 * 1024
    r = scim.request("POST", "/Users", data=ok, headers={
        "Content-Type": "application/scim+json"})
    assert r.status_code == 201, r.text[:200]


# ---- filters and pagination ------------------------------------------------------

@pytest.fixture(scope="module")
def people(site):
    s = Scim(site, TOKEN)
    tag = uuid.uuid4().hex[:8]
    made = []
    for i in range(7):
        made.append(s.create(name="p%d-%s@example.org" % (i, tag),
                             externalId="ext-%s-%d" % (tag, i),
                             userType="batch-" + tag,
                             active=(i % 3 != 0)))
    return tag, made


def names_of(r):
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["schemas"] == [LISTRESP]
    return [u["userName"] for u in doc["Resources"]]


def test_filter_username_eq_is_case_insensitive(scim, people):
    tag, made = people
    r = scim.query('userName eq "%s"' % made[2]["userName"].upper())
    assert names_of(r) == [made[2]["userName"]]
    assert r.json()["totalResults"] == 1


def test_filter_username_eq_unknown_is_an_empty_list(scim):
    r = scim.query('userName eq "nobody-%s@example.org"' % uuid.uuid4().hex)
    assert names_of(r) == [] and r.json()["totalResults"] == 0


def test_filter_external_id_eq(scim, people):
    tag, made = people
    assert names_of(scim.query('externalId eq "ext-%s-4"' % tag)) == \
        [made[4]["userName"]]
    # externalId is caseExact
    assert names_of(scim.query('externalId eq "EXT-%s-4"' % tag)) == []


@pytest.mark.parametrize("form", ['emails[value eq "%s"]',
                                  'emails.value eq "%s"',
                                  'EMAILS[VALUE EQ "%s"]'])
def test_filter_email(scim, people, form):
    tag, made = people
    assert names_of(scim.query(form % made[5]["userName"].upper())) == \
        [made[5]["userName"]]


def test_filter_active_and_conjunction(scim, people):
    tag, made = people
    active = names_of(scim.query('userType eq "batch-%s" and active eq true'
                                 % tag, count="100"))
    inactive = names_of(scim.query('userType eq "batch-%s" and active eq '
                                   'false' % tag))
    assert sorted(active) == sorted(u["userName"] for i, u in
                                    enumerate(made) if i % 3)
    assert sorted(inactive) == sorted(u["userName"] for i, u in
                                      enumerate(made) if i % 3 == 0)
    assert names_of(scim.query('userName eq "%s" and active eq false'
                               % made[1]["userName"])) == []


def test_pagination(scim, people):
    tag, made = people
    f = 'userType eq "batch-%s"' % tag
    all_names = sorted(u["userName"] for u in made)
    r = scim.query(f, startIndex="1", count="3").json()
    assert r["totalResults"] == 7 and r["itemsPerPage"] == 3
    assert r["startIndex"] == 1
    pages = [u["userName"] for u in r["Resources"]]
    r = scim.query(f, startIndex="4", count="3").json()
    assert r["startIndex"] == 4 and r["itemsPerPage"] == 3
    pages += [u["userName"] for u in r["Resources"]]
    r = scim.query(f, startIndex="7", count="3").json()
    assert r["itemsPerPage"] == 1
    pages += [u["userName"] for u in r["Resources"]]
    assert pages == all_names
    # RFC 7644 3.4.2.4: startIndex < 1 is 1; count 0 gives only the total.
    r = scim.query(f, startIndex="-5", count="2").json()
    assert r["startIndex"] == 1 and r["itemsPerPage"] == 2
    r = scim.query(f, count="0").json()
    assert r["totalResults"] == 7 and r["Resources"] == []
    r = scim.query(f, startIndex="50").json()
    assert r["totalResults"] == 7 and r["Resources"] == []
    scim_error(scim.query(f, count="ten"), 400, "invalidValue")


def test_listing_without_filter_pages_through_everyone(scim, people):
    r = scim.get("/Users?count=2").json()
    assert r["totalResults"] >= 7 and r["itemsPerPage"] == 2


INJECTED = [
    'userName eq "x" or 1 eq 1',
    'userName eq "x" or userName pr',
    'userName eq "x',
    'userName eq x',
    'userName eq "x""',
    'userName sw "a"',
    'userName zz "a"',
    'userName pr',
    'not (userName eq "x")',
    '(userName eq "x")',
    'userName eq "x" and',
    'userName eq "x" and or',
    'userName eq "x"; DEL *',
    'userName eq 1',
    'userName eq "\\u0000"',
    'emails[value eq "a" or value eq "b"]',
    'emails[value eq "a"',
    'password eq "x"',
    'meta.created gt "2020-01-01"',
    'userName eq "%s"' % ("a" * 3000),
    " and ".join(['userName eq "a"'] * 20),
    "",
    "   ",
]


@pytest.mark.parametrize("filt", INJECTED, ids=range(len(INJECTED)))
def test_bad_filters_are_400_and_never_a_listing(scim, people, filt):
    r = scim.query(filt)
    doc = scim_error(r, 400, "invalidFilter")
    assert "Resources" not in doc and "totalResults" not in doc


def test_a_filter_given_twice_is_refused(site, scim):
    r = requests.get(site.url(SCIM + "/Users?filter=userName%20eq%20%22a%22"
                              "&filter=active%20eq%20true"),
                     headers={"Authorization": "Bearer " + TOKEN}, timeout=10)
    scim_error(r, 400, "invalidFilter")


# ---- replace and patch ---------------------------------------------------------

def test_put_replaces_every_mapped_attribute(scim, redis):
    u = scim.create(externalId="e1", userType="Employee")
    body = user_body(u["userName"], email="new-" + u["userName"],
                     name={"givenName": "Bea"})
    r = scim.put("/Users/" + u["id"], body)
    assert r.status_code == 200, r.text
    v = r.json()
    assert v["name"] == {"givenName": "Bea", "formatted": "Bea"}
    assert "externalId" not in v and "userType" not in v
    assert v["emails"][0]["value"] == "new-" + u["userName"]
    assert v["meta"]["version"] != u["meta"]["version"]
    assert r.headers["ETag"] == v["meta"]["version"]
    rec = record(redis, u["userName"])
    assert rec["email"] == "new-" + u["userName"] and rec["externalId"] == ""
    assert u["userName"].lower() not in redis.cli(
        "--raw", "SMEMBERS", "qsso:user-email:" + u["userName"].lower())
    scim_error(scim.put("/Users/" + uuid.uuid4().hex, body), 404)
    scim_error(scim.put("/Users/" + u["id"], {"name": {}}), 400,
               "invalidValue")


def test_put_renames_and_refuses_a_taken_name(scim, redis):
    a, b = scim.create(), scim.create()
    new = "renamed-" + a["userName"]
    r = scim.put("/Users/" + a["id"], user_body(new))
    assert r.status_code == 200 and r.json()["id"] == a["id"]
    assert record(redis, a["userName"]) is None
    assert record(redis, new)["id"] == a["id"]
    assert scim.get("/Users/" + a["id"]).json()["userName"] == new
    scim_error(scim.put("/Users/" + a["id"], user_body(b["userName"])),
               409, "uniqueness")
    assert scim.get("/Users/" + a["id"]).json()["userName"] == new


def test_patch_okta_shape(scim):
    u = scim.create()
    r = scim.patch("/Users/" + u["id"], [
        {"op": "replace", "value": {"name": {"givenName": "Okta"},
                                    "userType": "Contractor",
                                    "id": u["id"]}}])
    assert r.status_code == 200, r.text
    v = r.json()
    assert v["name"]["givenName"] == "Okta"
    assert v["name"]["familyName"] == "Lima"       # merged, not replaced
    assert v["userType"] == "Contractor"


def test_patch_entra_shape(scim, redis):
    u = scim.create()
    r = scim.patch("/Users/" + u["id"], [
        {"op": "Replace", "path": "name.givenName", "value": "Entra"},
        {"op": "Add", "path": 'emails[type eq "work"].value',
         "value": "entra-" + u["userName"]},
        {"op": "Add", "path": ENTERPRISE + ":division", "value": "Sales"},
        {"op": "Add", "path": ENTERPRISE + ":employeeNumber",
         "value": "E-7"},
        {"op": "Replace", "path": "externalId", "value": "aad-1"},
        {"op": "Add", "path": "displayName", "value": "ignored"},
        {"op": "Add", "path": "title", "value": "ignored"},
        {"op": "Replace", "path": ENTERPRISE + ":manager",
         "value": "ignored"},
        {"op": "Add", "path": 'addresses[type eq "work"].locality',
         "value": "ignored"},
        {"op": "Replace", "path": "active", "value": "True"},
    ])
    assert r.status_code == 200, r.text
    v = r.json()
    assert v["name"]["givenName"] == "Entra"
    assert v["emails"][0]["value"] == "entra-" + u["userName"]
    assert v[ENTERPRISE] == {"division": "Sales", "employeeNumber": "E-7"}
    assert v["externalId"] == "aad-1" and v["active"] is True
    rec = record(redis, u["userName"])
    assert rec["division"] == "Sales" and rec["uniqueId"] == "E-7"
    # Removing: the attribute goes, the user stays.
    r = scim.patch("/Users/" + u["id"], [
        {"op": "remove", "path": ENTERPRISE + ":division"},
        {"op": "remove", "path": "externalId"},
        {"op": "Remove", "path": 'emails[type eq "work"]'}])
    v = r.json()
    assert ENTERPRISE not in v or "division" not in v[ENTERPRISE]
    assert "externalId" not in v and "emails" not in v
    assert record(redis, u["userName"])["email"] == ""


def test_patch_email_filter_for_a_user_without_email_adds_it(scim):
    u = scim.create(emails=[])
    assert "emails" not in u
    r = scim.patch("/Users/" + u["id"], [
        {"op": "replace", "path": 'emails[type eq "work"].value',
         "value": "late-" + u["userName"]}])
    assert r.status_code == 200, r.text
    assert r.json()["emails"][0]["value"] == "late-" + u["userName"]
    # With an email kept, a filter selecting another one has no target.
    scim_error(scim.patch("/Users/" + u["id"], [
        {"op": "replace", "path": 'emails[type eq "home"].value',
         "value": "x@example.org"}]), 400, "noTarget")


@pytest.mark.parametrize("op,scim_type", [
    ({"op": "replace", "path": "favouriteColour", "value": "x"},
     "invalidPath"),
    ({"op": "replace", "path": "name.nickName", "value": "x"},
     "invalidPath"),
    ({"op": "add", "path": ENTERPRISE + ":shoeSize", "value": "x"},
     "invalidPath"),
    ({"op": "add", "path": "urn:example:other:1.0:User:x", "value": "x"},
     "invalidPath"),
    ({"op": "replace", "path": 'userName[value eq "x"]', "value": "x"},
     "invalidPath"),
    ({"op": "replace", "path": "emails[", "value": "x"}, "invalidPath"),
    ({"op": "replace", "path": "id", "value": "x"}, "mutability"),
    ({"op": "add", "path": "groups", "value": [{"value": "x"}]},
     "mutability"),
    ({"op": "remove", "path": "userName"}, "invalidValue"),
    ({"op": "replace", "path": "active", "value": "yes"}, "invalidValue"),
    ({"op": "remove"}, "noTarget"),
    ({"op": "move", "path": "active", "value": False}, "invalidSyntax"),
    ({"path": "active", "value": False}, "invalidSyntax"),
    ({"op": "replace", "value": False}, "invalidValue"),
])
def test_patch_errors_change_nothing(scim, op, scim_type):
    u = scim.create()
    ops = [{"op": "replace", "path": "name.givenName", "value": "Changed"},
           op]
    scim_error(scim.patch("/Users/" + u["id"], ops), 400, scim_type)
    v = scim.get("/Users/" + u["id"]).json()
    assert v["name"]["givenName"] == "Ana"          # all or nothing
    assert v["meta"]["version"] == u["meta"]["version"]


def test_patch_without_operations_is_400(scim):
    u = scim.create()
    r = scim.request("PATCH", "/Users/" + u["id"], {"schemas": [PATCHOP]})
    scim_error(r, 400, "invalidSyntax")


def test_if_match_guards_updates(scim):
    u = scim.create()
    ops = [{"op": "replace", "path": "userType", "value": "A"}]
    r = scim.patch("/Users/" + u["id"], ops,
                   headers={"If-Match": 'W/"0000000000000000"'})
    scim_error(r, 412)
    r = scim.patch("/Users/" + u["id"], ops,
                   headers={"If-Match": u["meta"]["version"]})
    assert r.status_code == 200 and r.json()["userType"] == "A"
    # The old version is stale now.
    r = scim.patch("/Users/" + u["id"], ops,
                   headers={"If-Match": u["meta"]["version"]})
    scim_error(r, 412)


def test_a_patch_that_changes_nothing_writes_nothing(scim, redis):
    u = scim.create()
    n = int(redis.cli("XLEN", "qsso:events"))
    r = scim.patch("/Users/" + u["id"], [
        {"op": "Replace", "path": "active", "value": "True"}])
    assert r.status_code == 200
    assert r.json()["meta"]["version"] == u["meta"]["version"]
    events = redis.cli("--raw", "XRANGE", "qsso:events", "-", "+")
    assert "user.updated" not in events.split("scim.post")[-1]
    assert int(redis.cli("XLEN", "qsso:events")) == n + 1   # scim.patch


# ---- deactivation, deletion, reactivation ------------------------------------------

def test_deactivate_and_reactivate_by_both_patch_shapes(scim, redis):
    u = scim.create()
    for off, on in [
            ({"op": "replace", "value": {"active": False}},
             {"op": "replace", "value": {"active": True}}),
            ({"op": "Replace", "path": "active", "value": "False"},
             {"op": "Replace", "path": "active", "value": "True"})]:
        r = scim.patch("/Users/" + u["id"], [off])
        assert r.status_code == 200 and r.json()["active"] is False
        assert record(redis, u["userName"])["active"] is False
        r = scim.patch("/Users/" + u["id"], [on])
        assert r.status_code == 200 and r.json()["active"] is True
        assert record(redis, u["userName"])["active"] is True
    events = redis.cli("--raw", "XRANGE", "qsso:events", "-", "+")
    assert "user.deactivated" in events and "user.activated" in events


def test_put_with_active_false_deactivates(scim, redis):
    u = scim.create()
    r = scim.put("/Users/" + u["id"], user_body(u["userName"], active=False))
    assert r.status_code == 200 and r.json()["active"] is False
    assert record(redis, u["userName"])["active"] is False


def test_delete_keeps_a_tombstone_and_hides_the_user(scim, redis):
    u = scim.create()
    r = scim.delete("/Users/" + u["id"])
    assert r.status_code == 204 and r.text == ""
    scim_error(scim.get("/Users/" + u["id"]), 404)
    scim_error(scim.delete("/Users/" + u["id"]), 404)
    scim_error(scim.patch("/Users/" + u["id"], [
        {"op": "replace", "value": {"active": True}}]), 404)
    assert names_of(scim.query('userName eq "%s"' % u["userName"])) == []
    rec = record(redis, u["userName"])
    assert rec["deleted"] is True and rec["active"] is False
    # A new POST of the same userName is a new user on the tombstone.
    v = scim.create(name=u["userName"])
    assert v["id"] != u["id"] and v["active"] is True
    scim_error(scim.get("/Users/" + u["id"]), 404)
    assert record(redis, u["userName"])["deleted"] is False


# ---- groups ------------------------------------------------------------------------

def test_groups_lifecycle_is_mirrored_in_the_users(scim, redis):
    a, b = scim.create(), scim.create()
    name = "Survey Admins %s" % uuid.uuid4().hex[:6]
    r = scim.post("/Groups", {"schemas": [GROUP], "displayName": name,
                              "externalId": "g-ext",
                              "members": [{"value": a["id"]}]})
    assert r.status_code == 201, r.text
    g = r.json()
    assert r.headers["Location"].endswith("/Groups/" + g["id"])
    assert [m["value"] for m in g["members"]] == [a["id"]]
    assert record(redis, a["userName"])["groups"] == [name]
    assert scim.get("/Users/" + a["id"]).json()["groups"][0] == {
        "value": g["id"], "display": name, "type": "direct",
        "$ref": g["meta"]["location"]}
    scim_error(scim.post("/Groups", {"displayName": name.upper()}), 409,
               "uniqueness")
    # Entra ID adds and removes with path "members" and a value list.
    r = scim.patch("/Groups/" + g["id"], [
        {"op": "Add", "path": "members", "value": [{"value": b["id"]}]}])
    assert r.status_code == 200, r.text
    assert record(redis, b["userName"])["groups"] == [name]
    r = scim.patch("/Groups/" + g["id"], [
        {"op": "Remove", "path": "members", "value": [{"value": a["id"]}]}])
    assert [m["value"] for m in r.json()["members"]] == [b["id"]]
    assert record(redis, a["userName"])["groups"] == []
    # Okta removes with a filter and renames with a path-less replace.
    r = scim.patch("/Groups/" + g["id"], [
        {"op": "remove", "path": 'members[value eq "%s"]' % b["id"]},
        {"op": "add", "path": "members", "value": [{"value": a["id"]}]},
        {"op": "replace", "value": {"id": g["id"],
                                    "displayName": name + " v2"}}])
    assert r.status_code == 200, r.text
    assert r.json()["displayName"] == name + " v2"
    assert record(redis, a["userName"])["groups"] == [name + " v2"]
    assert record(redis, b["userName"])["groups"] == []
    # filter and excludedAttributes, as Entra ID queries groups
    r = scim.get('/Groups?excludedAttributes=members&filter=displayName%20eq'
                 '%20%22' + requests.utils.quote(name + " v2") + '%22')
    doc = r.json()
    assert doc["totalResults"] == 1 and "members" not in doc["Resources"][0]
    # PUT replaces the member list.
    r = scim.put("/Groups/" + g["id"], {"displayName": name + " v2",
                                        "members": [{"value": b["id"]}]})
    assert [m["value"] for m in r.json()["members"]] == [b["id"]]
    assert record(redis, a["userName"])["groups"] == []
    assert record(redis, b["userName"])["groups"] == [name + " v2"]
    # Deleting the group takes it out of every user.
    assert scim.delete("/Groups/" + g["id"]).status_code == 204
    scim_error(scim.get("/Groups/" + g["id"]), 404)
    assert record(redis, b["userName"])["groups"] == []


def test_group_members_must_be_users(scim):
    g = scim.post("/Groups", {"displayName": "g-%s" % uuid.uuid4().hex})
    assert g.status_code == 201
    doc = scim_error(scim.patch("/Groups/" + g.json()["id"], [
        {"op": "add", "path": "members",
         "value": [{"value": uuid.uuid4().hex}]}]), 400, "invalidValue")
    assert "not a user" in doc["detail"]
    scim_error(scim.patch("/Groups/" + g.json()["id"], [
        {"op": "add", "path": "owner", "value": "x"}]), 400, "invalidPath")
    scim_error(scim.post("/Groups", {"members": []}), 400, "invalidValue")


def test_deleting_a_user_takes_it_out_of_its_groups(scim):
    u = scim.create()
    g = scim.post("/Groups", {"displayName": "g-%s" % uuid.uuid4().hex,
                              "members": [{"value": u["id"]}]}).json()
    assert scim.delete("/Users/" + u["id"]).status_code == 204
    assert scim.get("/Groups/" + g["id"]).json()["members"] == []


def test_scim_groups_reach_the_session_and_require(servers, workdir, redis,
                                                   log):
    tokens = write_tokens(workdir, sha256(TOKEN))
    h = servers.start(
        qsso={"QSSOJITProvisioning": "Off",
              "QSSOUpdateAttributesOnLogin": "Off"},
        extra=scim_location(tokens) + """
<Location /dash/admins/>
    AuthType qsso
    Require qsso-group "Survey Admins"
</Location>""")
    os.makedirs(os.path.join(h.docroot, "dash", "admins"))
    with open(h.docroot + "/dash/index.shtml", "w") as f:
        f.write(SSI)
    with open(h.docroot + "/dash/admins/index.shtml", "w") as f:
        f.write("admins only\n")
    s = Scim(h, TOKEN)
    u = s.create(userType="Manager")
    redis.cli("DEL", "qsso:group-name:survey admins")
    g = s.post("/Groups", {"displayName": "Survey Admins",
                           "members": [{"value": u["id"]}]}).json()
    try:
        b = Browser(h)
        assert b.login(email=u["userName"]).status_code == 303
        env = env_of(b.get("/dash/").text)
        assert env["QSSO_GROUPS"] == "Survey Admins"
        assert env["QSSO_USER_TYPE"] == "Manager"
        assert b.get("/dash/admins/").status_code == 200
        # A user whom SCIM did not put in the group is refused there.
        other = s.create()
        b = Browser(h)
        assert b.login(email=other["userName"]).status_code == 303
        assert env_of(b.get("/dash/").text)["QSSO_GROUPS"] == ""
        log.expect("QSSO5001")
        log.expect("AH01631")
        r = b.get("/dash/admins/")
        assert r.status_code == 403 and "QSSO5001" in r.text
    finally:
        s.delete("/Groups/" + g["id"])


# ---- pre-provisioning -----------------------------------------------------------------

@pytest.fixture(scope="module")
def no_jit(servers, workdir):
    tokens = write_tokens(workdir, sha256(TOKEN))
    h = servers.start(qsso={"QSSOJITProvisioning": "Off",
                            "QSSOUsernameAttribute": harness.UPN,
                            "QSSOUpdateAttributesOnLogin": "Off"},
                      extra=scim_location(tokens))
    with open(h.docroot + "/dash/index.shtml", "w") as f:
        f.write(SSI)
    return h


def test_a_scim_user_signs_in_with_jit_off(no_jit, redis):
    s = Scim(no_jit, TOKEN)
    email = "pre-%s@example.org" % uuid.uuid4().hex[:8]
    body = user_body(email, userType="Employee")
    body[ENTERPRISE] = {"division": "Research", "employeeNumber": "E-9"}
    assert s.post("/Users", body).status_code == 201
    b = Browser(no_jit)
    r = b.login(email=email, attrs={EMAIL: [email], harness.UPN: [email]})
    assert r.status_code == 303, r.text
    env = env_of(b.get("/dash/").text)
    assert env["REMOTE_USER"] == email and env["QSSO_DIVISION"] == "Research"
    assert env["QSSO_UNIQUE_ID"] == "E-9"
    assert record(redis, email)["ssoLinked"] is True


def test_a_scim_user_with_another_username_is_linked_by_email(no_jit, redis):
    s = Scim(no_jit, TOKEN)
    email = "link-%s@example.org" % uuid.uuid4().hex[:8]
    u = s.create(name="emp-" + email.split("@")[0], email=email)
    b = Browser(no_jit)
    r = b.login(email=email, attrs={EMAIL: [email],
                                    harness.UPN: ["idp-" + email]})
    assert r.status_code == 303, r.text
    assert env_of(b.get("/dash/").text)["REMOTE_USER"] == u["userName"]


def test_an_unknown_user_is_refused_with_jit_off(no_jit, refusal):
    email = "unknown-%s@example.org" % uuid.uuid4().hex[:8]
    r = Browser(no_jit).login(email=email, attrs={EMAIL: [email],
                                                  harness.UPN: [email]})
    refusal(no_jit, r, 403, 4008)


# ---- immediate deprovisioning -----------------------------------------------------------

def signed_in(h, s, email):
    b = Browser(h)
    r = b.login(email=email, attrs={EMAIL: [email], harness.UPN: [email]})
    assert r.status_code == 303, r.text
    assert b.get("/dash/").status_code == 200
    return b


def access_mark(h):
    """The size of access.log once it has settled: httpd writes a
    request's line after sending the answer, so a request just answered
    may not be in the log yet."""
    path = os.path.join(h.dir, "access.log")
    size, still, end = -1, 0, time.time() + 5
    while still < 3 and time.time() < end:
        now = os.path.getsize(path)
        still = still + 1 if now == size else 0
        size = now
        time.sleep(0.05)
    return size


def served_after(h, mark):
    """Access-log lines for /dash/ answered 200 after byte offset mark."""
    access_mark(h)
    with open(os.path.join(h.dir, "access.log")) as f:
        f.seek(mark)
        return [l for l in f if " /dash/" in l and l.rstrip().endswith(" 200")]


@pytest.mark.parametrize("how", ["okta-patch", "entra-patch", "put",
                                 "delete"])
def test_deactivation_ends_sessions_before_the_answer(no_jit, redis,
                                                      refusal, how):
    s = Scim(no_jit, TOKEN)
    email = "leaver-%s@example.org" % uuid.uuid4().hex[:8]
    u = s.create(name=email)
    b = signed_in(no_jit, s, email)
    twin = signed_in(no_jit, s, email)            # a second device
    assert len(redis.keys("qsso:user-sessions:" + email)) == 1
    mark = access_mark(no_jit)
    if how == "okta-patch":
        r = s.patch("/Users/" + u["id"],
                    [{"op": "replace", "value": {"active": False}}])
    elif how == "entra-patch":
        r = s.patch("/Users/" + u["id"], [
            {"op": "Replace", "path": "active", "value": "False"}])
    elif how == "put":
        r = s.put("/Users/" + u["id"], user_body(email, active=False))
    else:
        r = s.delete("/Users/" + u["id"])
    t_answer = time.monotonic()
    first = b.get("/dash/")
    t_refused = time.monotonic()
    assert r.status_code in (200, 204), r.text
    # The very next request with the old cookie goes to the IdP.
    assert first.status_code == 302, first.status_code
    assert first.headers["Location"].startswith(harness.IDP_SSO)
    assert twin.get("/dash/").status_code == 302
    assert served_after(no_jit, mark) == []
    print("\nSCIM %s: first refused request %.1f ms after the SCIM answer"
          % (how, (t_refused - t_answer) * 1000))
    assert any("QSSO6004" in l and "session(s) ended" in l
               for l in no_jit.log())
    # ... and signing in again is refused as deactivated.
    again = b.login(email=email, attrs={EMAIL: [email],
                                        harness.UPN: [email]})
    refusal(no_jit, again, 403, 4009)
    assert redis.keys("qsso:user-sessions:" + email) == []


def test_reactivation_allows_a_new_login(no_jit, refusal):
    s = Scim(no_jit, TOKEN)
    email = "back-%s@example.org" % uuid.uuid4().hex[:8]
    u = s.create(name=email, active=False)
    b = Browser(no_jit)
    r = b.login(email=email, attrs={EMAIL: [email], harness.UPN: [email]})
    refusal(no_jit, r, 403, 4009)
    r = s.patch("/Users/" + u["id"], [
        {"op": "Replace", "path": "active", "value": "True"}])
    assert r.status_code == 200 and r.json()["active"] is True
    signed_in(no_jit, s, email)


def test_deactivation_reaches_a_second_front_end(servers, workdir, redis,
                                                 refusal):
    tokens = write_tokens(workdir, sha256(TOKEN))
    conf = {"QSSOJITProvisioning": "Off", "QSSOUsernameAttribute":
            harness.UPN}
    a = servers.start(qsso=conf, extra=scim_location(tokens))
    conf = dict(conf, QSSOSPBaseURL=a.base, QSSOSPEntityID=a.sp_entity)
    b_site = servers.start(qsso=conf, extra=scim_location(tokens))
    s = Scim(a, TOKEN)
    email = "two-%s@example.org" % uuid.uuid4().hex[:8]
    u = s.create(name=email)
    b = signed_in(a, s, email)
    other = Browser(b_site)
    other.cookie = b.cookie
    assert other.get("/dash/").status_code == 200
    mark = access_mark(b_site)
    r = s.patch("/Users/" + u["id"],
                [{"op": "replace", "value": {"active": False}}])
    t_answer = time.monotonic()
    first = other.get("/dash/")
    t_refused = time.monotonic()
    assert r.status_code == 200
    assert first.status_code == 302
    assert served_after(b_site, mark) == []
    print("\nSCIM deactivation on front end A: first refused request on B "
          "%.1f ms after the answer" % ((t_refused - t_answer) * 1000))
    # The login on B, through the shared directory, is refused as well.
    fresh = Browser(b_site)
    fresh.idp = Browser(a).idp          # B answers for A's public site
    xml, relay, _ = fresh.start_login()
    resp = fresh.idp.response({EMAIL: [email], harness.UPN: [email]}, email,
                              in_response_to=fresh.request_id(xml))
    refusal(b_site, fresh.post_acs(resp, relay), 403, 4009)


# ---- configuration ------------------------------------------------------------------------

def test_token_file_errors_name_the_line(workdir, redis):
    bad = write_tokens(workdir, sha256(TOKEN), "not-a-hash-but-a-token")
    h = harness.Httpd(workdir, redis, extra=scim_location(bad))
    rc, out = h.configtest()
    assert rc != 0
    assert "QSSOSCIMTokenFile" in out and "%s:3" % bad in out
    assert "not-a-hash-but-a-token" not in out      # maybe a real token
    dup = write_tokens(workdir, sha256(TOKEN), sha256(TOKEN))
    rc, out = harness.Httpd(workdir, redis,
                            extra=scim_location(dup)).configtest()
    assert rc != 0 and "same hash as line 2" in out
    empty = write_tokens(workdir)
    rc, out = harness.Httpd(workdir, redis,
                            extra=scim_location(empty)).configtest()
    assert rc != 0 and "no token hash" in out
    rc, out = harness.Httpd(workdir, redis, extra=scim_location(
        "/nonexistent/tokens")).configtest()
    assert rc != 0 and "/nonexistent/tokens" in out
    good = write_tokens(workdir, sha256(TOKEN))
    rc, out = harness.Httpd(workdir, redis,
                            extra=scim_location(good)).configtest()
    assert rc == 0, out


def test_sso_on_the_scim_location_fails_configtest(workdir, redis):
    tokens = write_tokens(workdir, sha256(TOKEN))
    h = harness.Httpd(workdir, redis, extra=scim_location(
        tokens, "    AuthType qsso\n    Require valid-user\n"))
    rc, out = h.configtest()
    assert rc != 0 and "QSSO6010" in out and "AuthType qsso" in out
    # Inherited from a protected parent: AuthType None fixes it.
    parent = "<Location /scim>\n AuthType qsso\n Require valid-user\n" \
             "</Location>\n"
    rc, out = harness.Httpd(workdir, redis, extra=parent + scim_location(
        tokens)).configtest()
    assert rc != 0 and "AuthType qsso" in out
    rc, out = harness.Httpd(workdir, redis, extra=parent + scim_location(
        tokens, "    AuthType None\n    Require all granted\n")).configtest()
    assert rc == 0, out


def test_a_scim_location_without_tokens_fails_configtest(workdir, redis):
    h = harness.Httpd(workdir, redis, extra="<Location %s>\n SetHandler "
                      "qsso-scim\n</Location>" % SCIM)
    rc, out = h.configtest()
    assert rc != 0 and "QSSO6010" in out and "QSSOSCIMTokenFile" in out
