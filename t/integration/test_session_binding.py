"""A session opens only the site it was issued for: the SP entity ID and
the IdP of the section whose ACS made it. One Apache here serves two
<VirtualHost>s (two ports, each with its own QSSOSPEntityID and IdP
metadata) and, on the first, two sections with their own
QSSOEndpointPath and QSSOIdPMetadataFile; QSSOStore is server-wide, so
all three keep their sessions in one Redis. A cookie replayed on another
site is no session there (a GET starts a login at that site's IdP), beside
its twin: the same cookie on its own site. A record in the previous
format ("qsso2", written by a front end not yet upgraded, naming no SP)
opens a page only with QSSOAcceptPreviousSessions On, on a server with one
SP entity ID, and on no other."""
import hashlib
import os
import time
import urllib.parse

import pytest

import harness
import samlidp
from harness import EMAIL, Browser, env_of

IDP2_ENTITY = "https://idp2.example.net/saml"
IDP2_SSO = "https://idp2.example.net/sso"


class Section:
    """A site of a shared httpd (another vhost, or a section with its own
    endpoint path), as Browser sees one: its URLs, SP entity and log."""

    def __init__(self, httpd, base, endpoint="/qsso"):
        self.httpd = httpd
        self.base = base
        self.port = int(base.rsplit(":", 1)[1])
        self.sp_entity = base + endpoint
        self.acs_url = base + endpoint + "/acs"

    def url(self, path):
        return self.base + path

    def log(self):
        return self.httpd.log()


def browser(site, idp_entity, sso):
    b = Browser(site)
    b.idp = samlidp.IdP(idp_entity, sso, site.sp_entity, site.acs_url)
    return b


def idp2_metadata(workdir):
    path = os.path.join(workdir, "idp2-metadata.xml")
    with open(path, "w") as f:
        f.write(samlidp.idp_metadata(IDP2_ENTITY, IDP2_SSO, ("idp2",)))
    return path


@pytest.fixture(scope="module")
def shared(servers, workdir):
    """One httpd: the main server on its port (IdP #1, /dash/ and, with
    its own endpoint path /other/qsso, SP entity and IdP #2, /other/), and
    a vhost on a second port (its own SP entity, IdP #2)."""
    port1, port2 = harness.free_port(), harness.free_port()
    base1 = "http://127.0.0.1:%d" % port1
    base2 = "http://127.0.0.1:%d" % port2
    md2 = idp2_metadata(workdir)
    # the endpoints of /other/ sit inside it, so they see its settings
    h = servers.start(port=port1, qsso={"QSSOAcceptPreviousSessions": "On"},
                      extra=(
        "<Location /other/>\n    AuthType qsso\n    Require valid-user\n"
        "    QSSOEndpointPath /other/qsso\n"
        "    QSSOSPEntityID %s/other/qsso\n"
        "    QSSOIdPMetadataFile %s\n"
        "</Location>\n" % (base1, md2) +
        "Listen 127.0.0.1:%d\n"
        "<VirtualHost 127.0.0.1:%d>\n"
        "    QSSOSPBaseURL %s\n"
        "    QSSOSPEntityID %s/qsso\n"
        "    QSSOIdPMetadataFile %s\n"
        "</VirtualHost>\n" % (port2, port2, base2, base2, md2)))
    return {"one": h, "two": Section(h, base2),
            "other": Section(h, base1, "/other/qsso")}


def key_of(cookie):
    return "qsso:sess:" + hashlib.sha256(cookie[1].encode()).hexdigest()


def lines(h, tag):
    return [l for l in h.log() if "QSSO%d:" % tag in l]


# ---- a cookie replayed on another site --------------------------------------

def test_session_opens_the_site_it_was_issued_for(shared):
    b = browser(shared["one"], harness.IDP_ENTITY, harness.IDP_SSO)
    assert b.login().status_code == 303
    r = b.get("/dash/")
    assert r.status_code == 200
    assert env_of(r.text)["REMOTE_USER"] == "ana@example.org"


def test_cookie_copied_to_another_vhost_is_no_session_there(shared, redis):
    one, two = shared["one"], shared["two"]
    b = browser(one, harness.IDP_ENTITY, harness.IDP_SSO)
    assert b.login().status_code == 303
    one.mark()
    thief = browser(two, IDP2_ENTITY, IDP2_SSO)
    thief.cookie = b.cookie
    r = thief.get("/dash/")
    # a login at site 2's own IdP, not a page
    assert r.status_code == 302, (r.status_code, r.text[:300])
    assert r.headers["Location"].startswith(IDP2_SSO + "?")
    assert "Set-Cookie" not in r.headers
    line, = lines(one, 3010)
    assert "SP \"%s\"" % one.sp_entity in line
    assert "SP \"%s\"" % two.sp_entity in line
    # not a navigation: 401, as for no session at all
    r = thief.request("POST", "/dash/", data={"a": "1"})
    assert r.status_code == 401 and "QSSO2002" in r.text
    # the record is left alone: the twin, on its own site, still works
    assert redis.cli("EXISTS", key_of(b.cookie)) == "1"
    assert b.get("/dash/").status_code == 200


def test_each_vhost_signs_in_at_its_own_idp(shared):
    """Site 2 works with its own IdP, and its cookie opens not site 1."""
    one, two = shared["one"], shared["two"]
    b = browser(two, IDP2_ENTITY, IDP2_SSO)
    assert b.login(email="ben@example.net", key="idp2").status_code == 303
    assert env_of(b.get("/dash/").text)["QSSO_IDP"] == IDP2_ENTITY
    other = browser(one, harness.IDP_ENTITY, harness.IDP_SSO)
    other.cookie = b.cookie
    r = other.get("/dash/")
    assert r.status_code == 302
    assert r.headers["Location"].startswith(harness.IDP_SSO + "?")


def test_sections_with_their_own_idp_keep_their_sessions_apart(shared):
    one, other = shared["one"], shared["other"]
    b = browser(one, harness.IDP_ENTITY, harness.IDP_SSO)
    assert b.login().status_code == 303
    r = b.get("/other/")
    assert r.status_code == 302
    assert r.headers["Location"].startswith(IDP2_SSO + "?")
    assert b.get("/dash/").status_code == 200          # the twin
    # /other/ signs in at IdP #2 through its own endpoint path
    c = browser(other, IDP2_ENTITY, IDP2_SSO)
    assert c.login(path="/other/", email="ben@example.net",
                   key="idp2").status_code == 303
    assert env_of(c.get("/other/").text)["QSSO_IDP"] == IDP2_ENTITY
    assert c.get("/dash/").status_code == 302


def test_logout_elsewhere_does_not_end_the_session(shared, redis):
    """Site 2's logout, given site 1's cookie, ends nothing: no record is
    deleted and no cookie expired (a link there cannot sign users out
    here)."""
    one, two = shared["one"], shared["two"]
    b = browser(one, harness.IDP_ENTITY, harness.IDP_SSO)
    b.login()
    thief = browser(two, IDP2_ENTITY, IDP2_SSO)
    thief.cookie = b.cookie
    r = thief.get("/qsso/logout")
    assert r.status_code == 303
    assert "Set-Cookie" not in r.headers
    assert redis.cli("EXISTS", key_of(b.cookie)) == "1"
    assert b.get("/dash/").status_code == 200


# ---- records of the previous format -----------------------------------------

def put_old_record(redis, idp=harness.IDP_ENTITY, user="old@example.org"):
    """A session as a front end of the previous version wrote it; returns
    its cookie."""
    cookie = ("qsso_session", "Q" * 30 + os.urandom(7).hex()[:13])
    exp = int(time.time()) + 600
    q = urllib.parse.quote
    rec = "\n".join(["qsso2", str(exp), q(user, safe=""), q(user, safe=""),
                     q(user, safe=""), q(idp, safe=""), "Old", "Record",
                     "Standard", "", "", "staff,admins",
                     "region=APAC%3A%3AEMEA"]) + "\n"
    redis.cli("SET", key_of(cookie), rec, "EX", "600")
    return cookie


@pytest.fixture(scope="module")
def upgrading(servers):
    """A one-SP server whose sysadmin accepts the previous format during a
    rolling upgrade."""
    return servers.start(qsso={"QSSOAcceptPreviousSessions": "On"})


def test_previous_format_record_opens_a_page_on_a_one_sp_server(upgrading,
                                                                redis):
    b = Browser(upgrading)
    b.cookie = put_old_record(redis)
    r = b.get("/dash/")
    assert r.status_code == 200, r.status_code
    assert env_of(r.text)["REMOTE_USER"] == "old@example.org"


def test_previous_format_record_is_no_session_unless_accepted(site, redis):
    """By default (QSSOAcceptPreviousSessions Off) the same record opens
    nothing: another server sharing this Redis may have written it."""
    b = Browser(site)
    b.cookie = put_old_record(redis)
    site.mark()
    r = b.get("/dash/")
    assert r.status_code == 302
    assert r.headers["Location"].startswith(harness.IDP_SSO + "?")
    line, = lines(site, 3011)
    assert "it is Off" in line and "has 1" in line
    assert redis.cli("EXISTS", key_of(b.cookie)) == "1"


def test_previous_format_record_of_another_idp_is_no_session(upgrading,
                                                             redis):
    b = Browser(upgrading)
    b.cookie = put_old_record(redis, idp=IDP2_ENTITY)
    upgrading.mark()
    assert b.get("/dash/").status_code == 302
    line, = lines(upgrading, 3011)
    assert "it is On" in line and "has 1" in line


def test_previous_format_record_is_refused_on_a_two_sp_server(shared,
                                                              redis):
    one = shared["one"]
    b = Browser(one)
    b.cookie = put_old_record(redis)     # the IdP of this very section
    one.mark()
    r = b.get("/dash/")
    assert r.status_code == 302
    assert r.headers["Location"].startswith(harness.IDP_SSO + "?")
    line, = lines(one, 3011)
    assert "has 3" in line         # /qsso, /other/qsso and the vhost's
    assert redis.cli("EXISTS", key_of(b.cookie)) == "1"
