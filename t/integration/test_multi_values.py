"""Multi-valued fields (groups, dashboard attributes) stay lists from the
assertion to the Require rules; only the export to the backend joins them
with "::". A value that itself holds "::" would read there as two values
(and, before, passed `Require qsso-attr region EMEA` as "APAC::EMEA"):
the login is refused with QSSO4030, beside its twin that sends APAC and
EMEA as two AttributeValues and is accepted."""
import pytest

from harness import EMAIL, Browser, env_of

GROUPS = "http://schemas.microsoft.com/ws/2008/06/identity/claims/groups"
REGION = "urn:qsso:test:region"

SSI = """REMOTE_USER=<!--#echo var="REMOTE_USER" -->
QSSO_GROUPS=<!--#echo var="QSSO_GROUPS" -->
QSSO_ATTR_URN_QSSO_TEST_REGION=<!--#echo var="QSSO_ATTR_URN_QSSO_TEST_REGION" -->
"""

# /other/ admits region EMEA, /public/ group EMEA (both need a session).
RULES = """
<Location /other/>
    AuthType qsso
    Require qsso-attr %s EMEA
</Location>
<Location /public/>
    AuthType qsso
    Require qsso-group EMEA
</Location>
""" % REGION


@pytest.fixture(scope="module")
def values_site(servers):
    h = servers.start(qsso={"QSSOGroupAttribute": GROUPS,
                            "QSSODashboardAttribute": REGION},
                      extra=RULES)
    for d in ("dash", "other", "public"):
        with open(h.docroot + "/%s/index.shtml" % d, "w") as f:
            f.write(SSI)
    return h


def login(h, email, **attrs):
    b = Browser(h)
    a = {EMAIL: [email]}
    a.update(attrs)
    return b, b.login(email=email, attrs=a)


def test_a_group_value_holding_the_delimiter_is_refused(values_site,
                                                        refusal):
    b, r = login(values_site, "ana@example.org", **{GROUPS: ["APAC::EMEA"]})
    line = refusal(values_site, r, 403, 4030)
    assert '"APAC::EMEA"' in line and GROUPS in line
    assert b.cookie is None
    assert b.get("/public/").status_code == 302      # still signed out


def test_groups_sent_apart_are_accepted_and_joined_for_export(values_site):
    b, r = login(values_site, "ana@example.org",
                 **{GROUPS: ["APAC", "EMEA"]})
    assert r.status_code == 303
    assert env_of(b.get("/dash/").text)["QSSO_GROUPS"] == "APAC::EMEA"
    assert b.get("/public/").status_code == 200      # Require qsso-group


def test_a_dashboard_value_holding_the_delimiter_is_refused(values_site,
                                                            refusal):
    b, r = login(values_site, "ben@example.org", **{REGION: ["APAC::EMEA"]})
    line = refusal(values_site, r, 403, 4030)
    assert '"APAC::EMEA"' in line and REGION in line
    assert b.cookie is None
    assert b.get("/other/").status_code == 302


def test_dashboard_values_sent_apart_meet_require_qsso_attr(values_site):
    b, r = login(values_site, "ben@example.org",
                 **{REGION: ["APAC", "EMEA"]})
    assert r.status_code == 303
    env = env_of(b.get("/dash/").text)
    assert env["QSSO_ATTR_URN_QSSO_TEST_REGION"] == "APAC::EMEA"
    assert b.get("/other/").status_code == 200       # Require qsso-attr


def test_one_value_is_not_split_by_require(values_site, log):
    """A value with one ':' is a value like any other, and matches only
    whole."""
    b, r = login(values_site, "cy@example.org", **{REGION: ["APAC:EMEA"],
                                                   GROUPS: ["EMEA:x"]})
    assert r.status_code == 303
    log.expect("QSSO5001")
    log.expect("AH01631")
    assert b.get("/other/").status_code == 403
    assert b.get("/public/").status_code == 403


def test_dashboard_length_still_counts_the_delimiters(values_site, refusal):
    """1000 characters at most once joined with "::": refused, never cut."""
    ok = ["a" * 499, "b" * 499]                       # 499 + 2 + 499
    b, r = login(values_site, "dee@example.org", **{REGION: ok})
    assert r.status_code == 303
    assert env_of(b.get("/dash/").text)[
        "QSSO_ATTR_URN_QSSO_TEST_REGION"] == "::".join(ok)
    b, r = login(values_site, "dee@example.org",
                 **{REGION: ["a" * 499, "b" * 500]})
    refusal(values_site, r, 403, 4006)


def test_one_value_never_passes_for_a_part_of_it(values_site, log):
    """The attack itself: whatever the login answers, one IdP value
    "APAC::EMEA" does not meet `Require qsso-attr region EMEA` (old code:
    200)."""
    log.expect("QSSO4030")
    b, r = login(values_site, "eve@example.org", **{REGION: ["APAC::EMEA"]})
    assert b.get("/other/").status_code != 200


def test_one_group_never_reaches_the_backend_as_two(values_site, log):
    """Whatever the login answers, one IdP group "APAC::EMEA" is never
    exported as X-QSSO-Groups / QSSO_GROUPS "APAC::EMEA", which the backend
    reads as the groups APAC and EMEA (old code: exported so)."""
    log.expect("QSSO4030")
    b, r = login(values_site, "eve@example.org", **{GROUPS: ["APAC::EMEA"]})
    r = b.get("/dash/")
    assert r.status_code != 200 or \
        env_of(r.text)["QSSO_GROUPS"] != "APAC::EMEA", r.text
