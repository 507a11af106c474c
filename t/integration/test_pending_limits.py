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


# ---- QSSOStore shm: the cap its pending-login region can honour -----------

def shm_configtest(workdir, url="shm", **qsso):
    from test_shm_store import SHMCB, Shm
    rc, out = harness.Httpd(workdir, Shm(url), extra=SHMCB,
                            qsso=qsso).configtest()
    assert rc == 0, out
    return [l for l in out.splitlines() if "QSSO201" in l]


def test_configtest_says_the_cap_shm_can_honour(workdir):
    """1/16 of the pending region (1/4 of BYTES) in 2176-byte records:
    7 at the default 1 MiB, 30 at 4 MiB; a notice, not an error."""
    lines = shm_configtest(workdir)
    assert len(lines) == 1 and "QSSO2012" in lines[0], lines
    assert "notice" in lines[0], lines[0]
    assert "QSSOPendingLoginsPerAddress 1000" in lines[0], lines[0]
    assert "262144-byte" in lines[0], lines[0]
    assert "so the cap is 7 per 180 s" in lines[0], lines[0]
    lines = shm_configtest(workdir, "shm:4194304")
    assert len(lines) == 1 and "so the cap is 30 per" in lines[0], lines
    lines = shm_configtest(workdir, QSSOPendingLoginsPerAddress="50")
    assert len(lines) == 1 and "QSSOPendingLoginsPerAddress 50 " \
        in lines[0] and "cap is 7 per" in lines[0], lines
    # "No cap" is honoured, and says what it costs.
    lines = shm_configtest(workdir, QSSOPendingLoginsPerAddress="0")
    assert len(lines) == 1 and "QSSO2013" in lines[0] \
        and "push other users' logins" in lines[0], lines


def test_configtest_is_quiet_when_the_cap_fits(workdir, redis):
    assert shm_configtest(workdir, QSSOPendingLoginsPerAddress="7") == []
    assert shm_configtest(workdir, QSSOPendingLoginsPerAddress="5") == []
    # Redis honours any cap: nothing to say.
    rc, out = harness.Httpd(workdir, redis).configtest()
    assert rc == 0 and "QSSO201" not in out, out


def test_shm_cap_refuses_past_what_the_region_honours(fresh, log):
    """Default shm and default directive: the 8th login of an address
    within 180 s is refused (429, QSSO2010 naming cap 7), another
    address still starts one; with the directive lower, it applies."""
    from test_shm_store import SHMCB, Shm
    h = fresh.start(redis=Shm(), extra=SHMCB)
    assert [get_from(h, "127.0.0.3").status for _ in range(9)] == \
        [302] * 7 + [429] * 2
    log.expect("QSSO2010")
    lines = [l for l in h.log() if "QSSO2010" in l]
    assert len(lines) == 1 and "more than 7 logins" in lines[0] \
        and "QSSOStore shm" in lines[0], lines
    assert get_from(h, "127.0.0.4").status == 302
    h = fresh.start(redis=Shm(), extra=SHMCB,
                    qsso={"QSSOPendingLoginsPerAddress": "3"})
    assert [get_from(h, "127.0.0.3").status for _ in range(5)] == \
        [302] * 3 + [429] * 2
