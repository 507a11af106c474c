"""Identity policy end to end: attribute fields, value maps, user-type
validation, email domains, the user directory in Redis (JIT, inactive
users, brand usernames, migration), dashboard attributes, export and the
Require providers. Each refusal sits next to the case that succeeds."""
import json
import time
import uuid

import pytest

import harness
from harness import EMAIL, Browser, env_of

FIRST = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname"
LAST = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname"
UTYPE = "urn:qsso:test:userType"
DIV = "urn:qsso:test:division"
GROUPS = "http://schemas.microsoft.com/ws/2008/06/identity/claims/groups"
COST = "urn:qsso:test:costCenter"
EMPID = "urn:qsso:test:employeeId"

POLICY = {
    "QSSOFirstNameAttribute": FIRST,
    "QSSOLastNameAttribute": LAST,
    "QSSOUserTypeAttribute": UTYPE,
    "QSSODivisionAttribute": DIV,
    "QSSOGroupAttribute": GROUPS,
    "QSSOUserTypeMap": ["Employee Standard", "Contractor Participant"],
    "QSSODivisionMap": ["R&D Research", "Sales Sales"],
    "QSSOGroupMap": ["g-admins admins", "g-analysts analysts"],
}

SSI = """REMOTE_USER=<!--#echo var="REMOTE_USER" -->
QSSO_USERNAME=<!--#echo var="QSSO_USERNAME" -->
QSSO_EMAIL=<!--#echo var="QSSO_EMAIL" -->
QSSO_FIRST_NAME=<!--#echo var="QSSO_FIRST_NAME" -->
QSSO_LAST_NAME=<!--#echo var="QSSO_LAST_NAME" -->
QSSO_USER_TYPE=<!--#echo var="QSSO_USER_TYPE" -->
QSSO_DIVISION=<!--#echo var="QSSO_DIVISION" -->
QSSO_GROUPS=<!--#echo var="QSSO_GROUPS" -->
QSSO_UNIQUE_ID=<!--#echo var="QSSO_UNIQUE_ID" -->
QSSO_ATTR_URN_QSSO_TEST_COSTCENTER=<!--#echo var="QSSO_ATTR_URN_QSSO_TEST_COSTCENTER" -->
"""


def who():
    return "u%s@example.org" % uuid.uuid4().hex[:10]


def start(fresh, extra="", **qsso):
    conf = dict(POLICY)
    conf.update(qsso)
    h = fresh.start(qsso=conf, extra=extra)
    with open(h.docroot + "/dash/index.shtml", "w") as f:
        f.write(SSI)
    return h


def login(h, email, **attrs):
    b = Browser(h)
    a = {EMAIL: [email]}
    for k, v in attrs.items():
        a[k] = v if isinstance(v, list) else [v]
    return b, b.login(email=email, attrs=a)


def page(b):
    r = b.get("/dash/")
    assert r.status_code == 200, r.status_code
    return env_of(r.text)


def user_record(redis, username):
    raw = redis.cli("--raw", "GET", "qsso:user:" + username.lower())
    return json.loads(raw) if raw else None


def put_user(redis, username, email, **fields):
    rec = {"id": uuid.uuid4().hex, "userName": username, "email": email,
           "firstName": "Old", "lastName": "Name", "userType": "Standard",
           "division": "", "groups": [], "uniqueId": "", "externalId": "",
           "source": "scim", "idp": "", "active": True, "ssoLinked": False,
           "created": 1000, "updated": 1000, "lastLogin": 0}
    rec.update(fields)
    redis.cli("SET", "qsso:user:" + username.lower(), json.dumps(rec))
    redis.cli("SADD", "qsso:user-email:" + email.lower(), username.lower())
    return rec


# ---- attribute fields, maps, export ------------------------------------

def test_fields_are_mapped_and_exported(fresh, redis):
    h = start(fresh)
    email = who()
    b, r = login(h, email, **{FIRST: "Ana", LAST: "Lima", UTYPE: "Employee",
                              DIV: "R&D", GROUPS: ["g-admins", "g-analysts",
                                                   "g-unmapped"]})
    assert r.status_code == 303, r.text
    env = page(b)
    assert env["QSSO_FIRST_NAME"] == "Ana" and env["QSSO_LAST_NAME"] == "Lima"
    assert env["QSSO_USER_TYPE"] == "Standard"
    assert env["QSSO_DIVISION"] == "Research"
    # Multi-valued groups map value by value; unmapped ones are dropped
    # when a map is configured.
    assert env["QSSO_GROUPS"] == "admins::analysts"


def test_names_default_to_email_without_name_attributes(fresh):
    h = start(fresh, QSSOFirstNameAttribute=None, QSSOLastNameAttribute=None)
    email = who()
    b, r = login(h, email, **{UTYPE: "Employee"})
    env = page(b)
    assert env["QSSO_FIRST_NAME"] == email == env["QSSO_LAST_NAME"]


def test_attribute_names_match_exactly_case_sensitive(fresh, refusal):
    h = start(fresh)
    b = Browser(h)
    # The IdP sends the email under a differently-cased Name: not ours.
    r = b.login(attrs={EMAIL.upper(): ["x@example.org"]})
    line = refusal(h, r, 403, 4001)
    assert EMAIL.upper() in line


def test_unmapped_user_type_falls_back_to_default(fresh):
    h = start(fresh, QSSODefaultUserType="Viewer")
    b, r = login(h, who(), **{UTYPE: "Intern"})
    assert page(b)["QSSO_USER_TYPE"] == "Viewer"
    b, r = login(h, who(), **{UTYPE: "Contractor"})
    assert page(b)["QSSO_USER_TYPE"] == "Participant"


def test_validate_user_type_refuses_unmapped_and_accepts_mapped(fresh,
                                                                refusal):
    h = start(fresh, QSSOValidateUserType="On")
    b, r = login(h, who(), **{UTYPE: "Contractor"})
    assert r.status_code == 303 and page(b)["QSSO_USER_TYPE"] == \
        "Participant"
    b, r = login(h, who(), **{UTYPE: "Intern"})
    line = refusal(h, r, 403, 4004)
    assert '"Intern"' in line


def test_validate_user_type_is_rechecked_at_every_login(fresh, refusal):
    h = start(fresh, QSSOValidateUserType="On")
    email = who()
    b, r = login(h, email, **{UTYPE: "Employee"})
    assert r.status_code == 303
    # The IdP changes the user's type to one with no mapping.
    b, r = login(h, email, **{UTYPE: "Former"})
    refusal(h, r, 403, 4004)


# ---- email domains -------------------------------------------------------

@pytest.mark.parametrize("email,ok", [
    ("ana@example.org", True),
    ("ANA@EXAMPLE.ORG", True),
    ("bo@lab.research.org", True),
    ("bo@deep.lab.research.org", True),
    ("bo@research.org", False),          # *.research.org: subdomains only
    ("eve@badexample.org", False),
    ("eve@example.org.evil.com", False),
    ("eve@other.net", False),
])
def test_email_domains(fresh, refusal, email, ok):
    h = start(fresh, QSSOEmailDomains="example.org *.research.org")
    b, r = login(h, email, **{UTYPE: "Employee"})
    if ok:
        assert r.status_code == 303
        assert page(b)["QSSO_EMAIL"] == email
    else:
        line = refusal(h, r, 403, 4005)
        assert email in line and "example.org *.research.org" in line


def test_policy_of_the_landing_location_applies(fresh, refusal):
    extra = """<Location /strict/>
    AuthType qsso
    Require valid-user
    QSSOEmailDomains example.org
</Location>"""
    h = start(fresh, extra=extra)
    import os
    os.makedirs(os.path.join(h.docroot, "strict"))
    with open(os.path.join(h.docroot, "strict", "index.shtml"), "w") as f:
        f.write("strict\n")
    b, r = login(h, "eve@other.net")          # lands on /dash/: any domain
    assert r.status_code == 303
    b = Browser(h)
    r = b.login(email="eve@other.net", path="/strict/")
    refusal(h, r, 403, 4005)
    r = Browser(h).login(email="ana@example.org", path="/strict/")
    assert r.status_code == 303 and r.headers["Location"] == "/strict/"


def test_email_domains_default_admits_any(fresh):
    h = start(fresh)
    b, r = login(h, "someone@anywhere.example")
    assert r.status_code == 303


# ---- user directory --------------------------------------------------------

def test_jit_creates_the_user_record(fresh, redis):
    h = start(fresh)
    email = who()
    b, r = login(h, email, **{FIRST: "Ana", UTYPE: "Employee", DIV: "Sales",
                              GROUPS: ["g-admins"]})
    assert r.status_code == 303
    rec = user_record(redis, email)
    assert rec["userName"] == email and rec["email"] == email
    assert rec["source"] == "jit" and rec["active"] is True
    assert rec["userType"] == "Standard" and rec["division"] == "Sales"
    assert rec["groups"] == ["admins"] and rec["firstName"] == "Ana"
    assert rec["idp"] == harness.IDP_ENTITY and len(rec["id"]) == 32
    assert abs(rec["created"] - time.time()) < 60
    assert abs(rec["lastLogin"] - time.time()) < 60
    assert email.lower() in redis.cli("--raw", "SMEMBERS",
                                      "qsso:user-email:" + email.lower())


def test_jit_off_refuses_unknown_and_admits_existing(fresh, redis, refusal):
    h = start(fresh, QSSOJITProvisioning="Off")
    known = who()
    put_user(redis, known, known)
    b, r = login(h, known)
    assert r.status_code == 303
    assert user_record(redis, known)["ssoLinked"] is True
    assert login(h, known)[1].status_code == 303
    unknown = who()
    b, r = login(h, unknown)
    line = refusal(h, r, 403, 4008)
    assert unknown in line
    assert user_record(redis, unknown) is None


def test_jit_off_links_a_precreated_user_by_email_every_time(fresh, redis):
    h = start(fresh, QSSOJITProvisioning="Off",
              QSSOUsernameAttribute=harness.UPN)
    email = who()
    put_user(redis, "emp-" + email, email)
    for _ in range(2):
        b, r = login(h, email, **{harness.UPN: "idp-" + email})
        assert r.status_code == 303, r.text
        assert page(b)["REMOTE_USER"] == "emp-" + email


def test_inactive_user_is_refused_with_its_own_code(fresh, redis, refusal):
    h = start(fresh)
    email = who()
    put_user(redis, email, email, active=False)
    b, r = login(h, email)
    line = refusal(h, r, 403, 4009)
    assert "account deactivated: ask your administrator to reactivate it" \
        in line
    assert "deactivated" in r.text
    # Reactivated: the same person gets in.
    put_user(redis, email, email, active=True)
    b, r = login(h, email)
    assert r.status_code == 303


def test_update_attributes_on_login(fresh, redis):
    h = start(fresh)
    email = who()
    login(h, email, **{FIRST: "Ana"})
    b, r = login(h, email, **{FIRST: "Anna"})
    assert page(b)["QSSO_FIRST_NAME"] == "Anna"
    assert user_record(redis, email)["firstName"] == "Anna"


def test_update_attributes_off_keeps_first_values(fresh, redis):
    h = start(fresh, QSSOUpdateAttributesOnLogin="Off")
    email = who()
    login(h, email, **{FIRST: "Ana", DIV: "Sales"})
    b, r = login(h, email, **{FIRST: "Anna", DIV: "R&D"})
    env = page(b)
    assert env["QSSO_FIRST_NAME"] == "Ana" and env["QSSO_DIVISION"] == "Sales"
    rec = user_record(redis, email)
    assert rec["firstName"] == "Ana" and rec["division"] == "Sales"
    assert abs(rec["lastLogin"] - time.time()) < 60


def test_notify_user_creation_appends_an_event_and_logs(fresh, redis, log):
    h = start(fresh, QSSONotifyUserCreation="On")
    email = who()
    b, r = login(h, email)
    assert r.status_code == 303
    events = redis.cli("--raw", "XRANGE", "qsso:events", "-", "+")
    assert "user.created" in events and email in events
    assert any("QSSO4011" in l and email in l for l in h.log())
    # Not again at the second login.
    n = int(redis.cli("XLEN", "qsso:events"))
    login(h, email)
    assert int(redis.cli("XLEN", "qsso:events")) == n


def test_no_event_without_notify(fresh, redis):
    h = start(fresh)
    n = int(redis.cli("XLEN", "qsso:events"))
    login(h, who())
    assert int(redis.cli("XLEN", "qsso:events")) == n


# ---- brand usernames and migration --------------------------------------

def test_brand_id_suffixes_the_username(fresh, redis):
    h = start(fresh, QSSOBrandID="acme")
    email = who()
    b, r = login(h, email)
    env = page(b)
    assert env["REMOTE_USER"] == email + "#acme"
    assert env["QSSO_USERNAME"] == email + "#acme"
    assert env["QSSO_EMAIL"] == email
    assert user_record(redis, email + "#acme") is not None


def test_modify_existing_username_renames_and_keeps_data(fresh, redis, log):
    h = start(fresh, QSSOBrandID="acme", QSSOModifyExistingUsername="On")
    email = who()
    old = put_user(redis, email, email, created=12345)
    b, r = login(h, email)
    assert r.status_code == 303
    assert page(b)["REMOTE_USER"] == email + "#acme"
    assert user_record(redis, email) is None
    rec = user_record(redis, email + "#acme")
    assert rec["id"] == old["id"] and rec["created"] == 12345
    assert any("QSSO4012" in l for l in h.log())


def test_modify_existing_refuses_a_different_person(fresh, redis, refusal):
    h = start(fresh, QSSOBrandID="acme", QSSOModifyExistingUsername="On")
    name = "u%s" % uuid.uuid4().hex[:8]
    put_user(redis, name, "someone.else@example.org")
    b, r = login(h, "x@example.org",
                 **{harness.UPN: name})  # username attr below
    # Username comes from UPN here, so the bare record "name" is found.
    h2 = start(fresh, QSSOBrandID="acme", QSSOModifyExistingUsername="On",
               QSSOUsernameAttribute=harness.UPN)
    b, r = login(h2, "x@example.org", **{harness.UPN: name})
    line = refusal(h2, r, 403, 4010)
    assert "someone.else@example.org" in line
    assert user_record(redis, name)["email"] == "someone.else@example.org"


def test_merge_existing_user_links_by_email(fresh, redis, log):
    h = start(fresh, QSSOMergeExistingUser="On",
              QSSOUsernameAttribute=harness.UPN)
    email = who()
    legacy = "legacy-" + uuid.uuid4().hex[:6]
    put_user(redis, legacy, email)
    b, r = login(h, email, **{harness.UPN: "sso-" + legacy})
    assert r.status_code == 303
    assert page(b)["REMOTE_USER"] == legacy
    assert user_record(redis, "sso-" + legacy) is None
    assert user_record(redis, legacy)["ssoLinked"] is True
    assert any("QSSO4013" in l for l in h.log())
    # The next login finds the linked record again (not refused as a
    # second person with the same email).
    b, r = login(h, email, **{harness.UPN: "sso-" + legacy})
    assert r.status_code == 303
    assert page(b)["REMOTE_USER"] == legacy


def test_merge_refuses_when_two_records_share_the_email(fresh, redis,
                                                        refusal):
    h = start(fresh, QSSOMergeExistingUser="On",
              QSSOUsernameAttribute=harness.UPN)
    email = who()
    put_user(redis, "a-" + email, email)
    put_user(redis, "b-" + email, email)
    b, r = login(h, email, **{harness.UPN: "new-" + email})
    line = refusal(h, r, 403, 4010)
    assert "2 users have email" in line
    assert user_record(redis, "new-" + email) is None


def test_merge_refuses_a_record_already_linked_to_another_sso_user(
        fresh, redis, refusal):
    h = start(fresh, QSSOMergeExistingUser="On",
              QSSOUsernameAttribute=harness.UPN)
    email = who()
    put_user(redis, "first-" + email, email, ssoLinked=True)
    b, r = login(h, email, **{harness.UPN: "second-" + email})
    refusal(h, r, 403, 4010)


# ---- dashboard attributes and unique ID ---------------------------------

@pytest.mark.parametrize("length,ok", [(1000, True), (1001, False)])
def test_dashboard_attribute_length_limit(fresh, refusal, length, ok):
    h = start(fresh, QSSODashboardAttribute=COST)
    # Two values joined with "::" count their delimiter.
    half = (length - 2) // 2
    values = ["a" * half, "b" * (length - 2 - half)]
    b, r = login(h, who(), **{COST: values})
    if ok:
        assert r.status_code == 303
        v = page(b)["QSSO_ATTR_URN_QSSO_TEST_COSTCENTER"]
        assert len(v) == 1000 and v == "::".join(values)
    else:
        line = refusal(h, r, 403, 4006)
        assert "1001 characters" in line


def test_unique_id_is_required_when_configured(fresh, refusal):
    h = start(fresh, QSSOUniqueIDAttribute=EMPID)
    b, r = login(h, who(), **{EMPID: "E-1234"})
    assert page(b)["QSSO_UNIQUE_ID"] == "E-1234"
    b, r = login(h, who())
    line = refusal(h, r, 403, 4007)
    assert EMPID in line


# ---- headers to a proxied backend ------------------------------------------

def test_pass_headers_to_proxied_backend(fresh, backend):
    extra = """LoadModule proxy_module %(m)s/mod_proxy.so
LoadModule proxy_http_module %(m)s/mod_proxy_http.so
<Location /app/>
    AuthType qsso
    Require valid-user
    QSSOPassHeaders On
    ProxyPass http://127.0.0.1:%(p)d/
</Location>
<Location /quiet/>
    AuthType qsso
    Require valid-user
    ProxyPass http://127.0.0.1:%(p)d/
</Location>""" % {"m": harness.MODDIR, "p": backend}
    h = start(fresh, extra=extra, QSSODashboardAttribute=COST)
    email = who()
    b = Browser(h)
    r = b.login(email=email, path="/app/", attrs={
        EMAIL: [email], UTYPE: ["Employee"], GROUPS: ["g-admins"],
        COST: ["CC-7"]})
    assert r.status_code == 303
    spoof = {"X-QSSO-User-Type": "Admin", "x_qsso_groups": "admins",
             "X-Qsso-Evil": "1"}
    got = {k.lower(): v for k, v in b.get("/app/", headers=spoof)
           .json().items()}
    assert got["x-qsso-username"] == email
    assert got["x-qsso-user-type"] == "Standard"
    assert got["x-qsso-groups"] == "admins"
    assert got["x-qsso-attr-urn-qsso-test-costcenter"] == "CC-7"
    assert "x-qsso-evil" not in got and "x_qsso_groups" not in got
    # A newline in an attribute value cannot start a header of its own.
    email2 = who()
    b2 = Browser(h)
    r = b2.login(email=email2, path="/app/", attrs={
        EMAIL: [email2], FIRST: ["Ana\r\nX-QSSO-User-Type: Admin"]})
    assert r.status_code == 303
    got = {k.lower(): v for k, v in b2.get("/app/").json().items()}
    assert got["x-qsso-first-name"] in ("Ana X-QSSO-User-Type: Admin",
                                        "Ana  X-QSSO-User-Type: Admin")
    assert got["x-qsso-user-type"] == "Standard"
    # Without QSSOPassHeaders: no identity headers, and still no spoofing.
    got = {k.lower(): v for k, v in b.get("/quiet/", headers=spoof)
           .json().items()}
    assert not [k for k in got if k.startswith(("x-qsso", "x_qsso"))]


# ---- Require providers -------------------------------------------------------

RULES = """
<Location /r/type/>
    AuthType qsso
    Require qsso-user-type Standard Manager
</Location>
<Location /r/group/>
    AuthType qsso
    Require qsso-group admins
</Location>
<Location /r/division/>
    AuthType qsso
    Require qsso-division Research
</Location>
<Location /r/attr/>
    AuthType qsso
    Require qsso-attr urn:qsso:test:costCenter CC-7 CC-9
</Location>
<Location /r/all/>
    AuthType qsso
    <RequireAll>
        Require qsso-group analysts
        Require qsso-division Research
    </RequireAll>
</Location>
<Location /r/any/>
    AuthType qsso
    <RequireAny>
        Require qsso-group admins
        Require qsso-user-type Participant
    </RequireAny>
</Location>
<Location /r/none/>
    AuthType qsso
    <RequireAll>
        Require valid-user
        <RequireNone>
            Require qsso-user-type Participant
        </RequireNone>
    </RequireAll>
</Location>
<Location /r/expr/>
    AuthType qsso
    Require qsso-group %{env:WANT_GROUP}
</Location>
SetEnvIf Request_URI "^/r/expr/" WANT_GROUP=analysts
"""


@pytest.fixture(scope="module")
def rules_site(servers):
    conf = dict(POLICY)
    conf["QSSODashboardAttribute"] = COST
    h = servers.start(qsso=conf, extra=RULES)
    import os
    for d in ("type", "group", "division", "attr", "all", "any", "none",
              "expr"):
        os.makedirs(os.path.join(h.docroot, "r", d))
        with open(os.path.join(h.docroot, "r", d, "index.shtml"), "w") as f:
            f.write("ok %s\n" % d)
    return h


def signed_in(h, **attrs):
    b, r = login(h, who(), **attrs)
    assert r.status_code == 303, r.text
    return b


CASES = [
    # (attributes, location, allowed)
    ({UTYPE: "Employee"}, "type", True),
    ({UTYPE: "Contractor"}, "type", False),
    ({GROUPS: ["g-analysts", "g-admins"]}, "group", True),
    ({GROUPS: ["g-analysts"]}, "group", False),
    ({DIV: "R&D"}, "division", True),
    ({DIV: "Sales"}, "division", False),
    ({COST: ["CC-1", "CC-9"]}, "attr", True),
    ({COST: ["CC-77"]}, "attr", False),
    ({GROUPS: ["g-analysts"], DIV: "R&D"}, "all", True),
    ({GROUPS: ["g-analysts"], DIV: "Sales"}, "all", False),
    ({GROUPS: ["g-admins"], UTYPE: "Employee"}, "any", True),
    ({UTYPE: "Contractor"}, "any", True),
    ({UTYPE: "Employee"}, "any", False),
    ({UTYPE: "Employee"}, "none", True),
    ({UTYPE: "Contractor"}, "none", False),
    ({GROUPS: ["g-analysts"]}, "expr", True),
    ({GROUPS: ["g-admins"]}, "expr", False),
]


@pytest.mark.parametrize("attrs,where,allowed", CASES,
                         ids=["%s-%s-%d" % (c[1], "-".join(
                             str(v) for v in c[0].values()), i)
                             for i, c in enumerate(CASES)])
def test_require_providers(rules_site, log, attrs, where, allowed):
    b = signed_in(rules_site, **attrs)
    r = b.get("/r/%s/" % where)
    if allowed:
        assert r.status_code == 200 and r.text.startswith("ok " + where)
        assert not [l for l in rules_site.log() if "QSSO5001" in l]
    else:
        assert r.status_code == 403
        log.expect("QSSO5001")
        log.expect("AH01631")       # mod_authz_core's own line
        ref = harness.ref_of(r.text)
        assert "QSSO5001" in r.text and "/r/%s/" % where in r.text
        lines = [l for l in rules_site.log() if "QSSO5001" in l]
        assert len(lines) == 1 and "ref=" + ref in lines[0], lines


def test_require_provider_without_session_starts_login(rules_site):
    r = Browser(rules_site).get("/r/group/")
    assert r.status_code == 302
    assert r.headers["Location"].startswith(harness.IDP_SSO)


def test_forbidden_page_names_the_rule(rules_site, log):
    b = signed_in(rules_site, **{GROUPS: ["g-analysts"]})
    r = b.get("/r/group/")
    log.expect("QSSO5001")
    log.expect("AH01631")
    assert "Require qsso-group admins" in r.text
    assert "/r/group/" in r.text


def test_bad_require_expression_fails_configtest(workdir, redis):
    h = harness.Httpd(workdir, redis, extra=(
        "<Location /bad/>\n AuthType qsso\n Require qsso-group %{unclosed\n"
        "</Location>"))
    rc, out = h.configtest()
    assert rc != 0 and "qsso-group" in out.lower() or "expression" in out


@pytest.fixture
def backend():
    from test_store_and_metadata import Echo
    import http.server
    import threading
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield srv.server_address[1]
    srv.shutdown()


def test_login_keeps_stored_fields_the_idp_does_not_send(fresh, redis):
    """With QSSOUpdateAttributesOnLogin On, a field whose attribute is not
    configured (here groups and user type, set by SCIM) is neither wiped
    nor overwritten by a login, and reaches the session; configured ones
    are refreshed."""
    h = start(fresh, QSSOGroupAttribute=None, QSSOUserTypeAttribute=None,
              QSSOUserTypeMap=None, QSSOGroupMap=None)
    email = who()
    put_user(redis, email, email, groups=["admins"], userType="Manager",
             firstName="Old")
    b, r = login(h, email, **{FIRST: "New", GROUPS: ["g-ignored"]})
    assert r.status_code == 303
    env = page(b)
    assert env["QSSO_GROUPS"] == "admins"
    assert env["QSSO_USER_TYPE"] == "Manager"
    assert env["QSSO_FIRST_NAME"] == "New"
    rec = user_record(redis, email)
    assert rec["groups"] == ["admins"] and rec["userType"] == "Manager"
    assert rec["firstName"] == "New"
