"""Pending logins are the records any unauthenticated client makes the
store keep: each keeps a bounded return path, lives 180 s, and one client
address may start only QSSOPendingLoginsPerAddress of them per 180 s."""
import http.client

import pytest

import harness
from harness import Browser

LONG = "/dash/?q=" + "x" * 3000          # over the 2048-byte limit
SHORT = "/dash/?q=" + "x" * 2000         # under it


def login_from(b, path):
    xml, relay, _ = b.start_login(path)
    resp = b.idp.response({harness.EMAIL: ["ana@example.org"]},
                          "ana@example.org",
                          in_response_to=b.request_id(xml))
    return b.post_acs(resp, relay)


def get_from(h, source, path="/dash/"):
    """A navigation GET from another loopback address (all of 127/8 is
    local on Linux)."""
    c = http.client.HTTPConnection("127.0.0.1", h.port, timeout=10,
                                   source_address=(source, 0))
    c.request("GET", path, headers={"Connection": "close"})
    r = c.getresponse()
    r.read()
    c.close()
    return r


@pytest.fixture(scope="module")
def site_with_landing(servers):
    return servers.start(qsso={"QSSODefaultRelayState": "/dash/landing"})


def test_long_return_path_lands_on_the_default(site_with_landing):
    r = login_from(Browser(site_with_landing), LONG)
    assert r.status_code == 303
    assert r.headers["Location"] == "/dash/landing"


def test_short_return_path_is_kept(site_with_landing):
    r = login_from(Browser(site_with_landing), SHORT)
    assert r.status_code == 303
    assert r.headers["Location"] == SHORT


def test_pending_record_is_small_and_lives_180_s(fresh, redis):
    h = fresh.start()
    xml, _, _ = Browser(h).start_login(LONG)
    key = "qsso:req:" + Browser.request_id(xml)
    assert 170 <= int(redis.cli("TTL", key)) <= 180
    assert int(redis.cli("STRLEN", key)) < 100     # no 3 KB path in it


def test_cap_refuses_beyond_n_logins_from_one_address(fresh, redis, log):
    h = fresh.start(qsso={"QSSOPendingLoginsPerAddress": "5"})
    redis.cli("DEL", "qsso:pend-addr:127.0.0.1", "qsso:pend-addr:127.0.0.3")
    for _ in range(5):
        assert get_from(h, "127.0.0.3").status == 302
    r = Browser(h).get("/dash/")             # 127.0.0.1: its own count
    assert r.status_code == 302
    over = [get_from(h, "127.0.0.3") for _ in range(3)]
    assert [o.status for o in over] == [429] * 3
    for o in over:
        assert 1 <= int(o.getheader("Retry-After")) <= 180
    # One log line for the window, not one per request.
    log.expect("QSSO2010")
    lines = [l for l in h.log() if "QSSO2010" in l]
    assert len(lines) == 1 and "127.0.0.3" in lines[0], lines
    assert "[warn]" in lines[0], lines
    # Another address still starts a login.
    assert get_from(h, "127.0.0.4").status == 302
    ttl = int(redis.cli("TTL", "qsso:pend-addr:127.0.0.3"))
    assert 0 < ttl <= 180


def test_cap_refusal_page_shows_the_code(fresh, redis, refusal):
    h = fresh.start(qsso={"QSSOPendingLoginsPerAddress": "1"})
    redis.cli("DEL", "qsso:pend-addr:127.0.0.1")
    assert Browser(h).get("/dash/").status_code == 302
    r = Browser(h).get("/dash/")
    refusal(h, r, 429, 2010)
    assert "Retry-After" in r.headers
    # The login endpoint is counted too.
    r = Browser(h).get("/qsso/login?return=/dash/")
    assert r.status_code == 429 and "QSSO2010" in r.text


def test_cap_off_never_refuses_nor_counts(fresh, redis):
    h = fresh.start(qsso={"QSSOPendingLoginsPerAddress": "0"})
    for _ in range(20):
        assert get_from(h, "127.0.0.5").status == 302
    assert redis.keys("qsso:pend-addr:127.0.0.5") == []


def test_configtest_names_a_bad_cap(workdir, redis):
    h = harness.Httpd(workdir, redis,
                      qsso={"QSSOPendingLoginsPerAddress": "lots"})
    rc, out = h.configtest()
    assert rc != 0 and "QSSOPendingLoginsPerAddress" in out \
        and "'lots'" in out, out


def test_ipv6_client_is_counted_by_its_64(fresh, redis, log):
    """Over IPv6 the counter is the client's /64: ::1 counts as ::/64."""
    port6 = harness.free_port()
    h = fresh.start(qsso={"QSSOPendingLoginsPerAddress": "2"},
                    extra="Listen [::1]:%d" % port6)
    redis.cli("DEL", "qsso:pend-addr:::/64", "qsso:pend-addr:127.0.0.1")

    def get6():
        c = http.client.HTTPConnection("::1", port6, timeout=10)
        c.request("GET", "/dash/", headers={"Connection": "close"})
        r = c.getresponse()
        r.read()
        c.close()
        return r.status

    assert [get6() for _ in range(3)] == [302, 302, 429]
    assert redis.cli("GET", "qsso:pend-addr:::/64") == "3"
    log.expect("QSSO2010")
    line = [l for l in h.log() if "QSSO2010" in l][0]
    assert "counted as ::/64" in line, line
    # IPv4 clients are counted apart.
    assert Browser(h).get("/dash/").status_code == 302
