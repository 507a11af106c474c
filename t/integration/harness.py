"""Real servers for the integration tests: a redis-server and an httpd with
mod_qsso, each on a free loopback port, started from a generated config and
stopped by PID; and a Browser that walks the SAML flow against them with a
pysaml2 IdP (t/lib/samlidp.py)."""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import uuid

import http.client

import requests

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "t", "lib"))
import samlidp  # noqa: E402

# make test-asan points these at the ASan build of the module and at
# t/asan/httpd, which preloads the sanitizer runtime (t/asan/run.sh).
HTTPD = os.environ.get("QSSO_HTTPD", "/usr/sbin/apache2")
MODDIR = "/usr/lib/apache2/modules"
MODULE = os.environ.get("QSSO_MODULE",
                        os.path.join(ROOT, ".libs", "mod_qsso.so"))
IDP_ENTITY = "https://idp.example.com/saml"
IDP_SSO = "https://idp.example.com/sso"
IDP_SSO_POST = "https://idp.example.com/sso-post"
# Attribute names as Entra ID sends them; pysaml2 passes unknown names as-is.
EMAIL = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress"
UPN = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn"

# The MPM every test httpd runs: QSSO_MPM=event (default), worker or prefork
# (t/run-all.sh runs the suite's core files under each). MPM_CONF sizes
# each the same way: two children at start, 16 connections at once at most.
# prefork has one connection per process, so it grows to 16 processes
# under load and keeps them (MaxSpareServers 16): a child that was busy
# with a browser's idle keep-alive connection is not replaced by an empty
# one halfway through a test.
MPM = os.environ.get("QSSO_MPM", "event")
MPM_CONF = {
    "event": ["StartServers 2", "ServerLimit 2", "ThreadsPerChild 8",
              "MaxRequestWorkers 16", "ThreadLimit 8", "MinSpareThreads 8",
              "MaxSpareThreads 16"],
    "prefork": ["StartServers 2", "ServerLimit 16", "MaxRequestWorkers 16",
                "MinSpareServers 2", "MaxSpareServers 16"],
}
MPM_CONF["worker"] = MPM_CONF["event"]
if MPM not in MPM_CONF:
    raise RuntimeError("QSSO_MPM=%s: want event, worker or prefork" % MPM)

BASE_MODULES = ["mpm_" + MPM, "authn_core", "authz_core", "authz_user", "mime",
                "env", "headers", "include", "setenvif", "dir", "alias",
                "rewrite"]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, what, timeout=10.0):
    end = time.time() + timeout
    while time.time() < end:
        if proc.poll() is not None:
            raise RuntimeError("%s exited with %s" % (what, proc.returncode))
        try:
            with socket.create_connection(("127.0.0.1", port), 0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("%s did not listen on %d" % (what, port))


def stop_pid(proc, timeout=10.0):
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class Redis:
    def __init__(self, workdir):
        self.dir = tempfile.mkdtemp(prefix="redis-", dir=workdir)
        self.port = free_port()
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no", "--dir", self.dir,
             "--logfile", os.path.join(self.dir, "redis.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port(self.port, self.proc, "redis-server")
        return self

    def stop(self):
        stop_pid(self.proc)

    @property
    def url(self):
        return "redis://127.0.0.1:%d/0" % self.port

    def cli(self, *args):
        out = subprocess.run(["redis-cli", "-p", str(self.port)] + list(args),
                             capture_output=True, text=True, check=True)
        return out.stdout.strip()

    def keys(self, pattern="*"):
        out = self.cli("--raw", "KEYS", pattern)
        return [k for k in out.splitlines() if k]


SSI_PAGE = """<!--#set var="x" value="" -->REMOTE_USER=<!--#echo var="REMOTE_USER" -->
QSSO_USERNAME=<!--#echo var="QSSO_USERNAME" -->
QSSO_EMAIL=<!--#echo var="QSSO_EMAIL" -->
QSSO_NAMEID=<!--#echo var="QSSO_NAMEID" -->
QSSO_IDP=<!--#echo var="QSSO_IDP" -->
QSSO_SESSION_EXPIRES=<!--#echo var="QSSO_SESSION_EXPIRES" -->
AUTH_TYPE=<!--#echo var="AUTH_TYPE" -->
HTTP_X_QSSO_EMAIL=<!--#echo var="HTTP_X_QSSO_EMAIL" -->
QSSO_LOGOUT_URL=<!--#echo var="QSSO_LOGOUT_URL" -->
"""


class Httpd:
    """One httpd with mod_qsso. `qsso` holds server-level QSSO directives
    (a dict or a list of lines); `extra` is appended raw to the config;
    `preload` names modules loaded before mod_qsso (hook order ties go by
    load order)."""

    def __init__(self, workdir, redis, qsso=None, extra="", certs=("idp1",),
                 port=None, preload=()):
        self.dir = tempfile.mkdtemp(prefix="httpd-", dir=workdir)
        os.chmod(self.dir, 0o755)
        self.port = port or free_port()
        self.base = "http://127.0.0.1:%d" % self.port
        self.redis = redis
        self.proc = None
        self.log_offset = 0
        self.docroot = os.path.join(self.dir, "htdocs")
        for d in ("dash", "public", "other"):
            os.makedirs(os.path.join(self.docroot, d))
            with open(os.path.join(self.docroot, d, "index.shtml"), "w") as f:
                f.write(SSI_PAGE)
        self.idp_metadata = os.path.join(self.dir, "idp-metadata.xml")
        with open(self.idp_metadata, "w") as f:
            f.write(samlidp.idp_metadata(IDP_ENTITY, IDP_SSO, certs,
                                         IDP_SSO_POST))
        self.sp_entity = self.base + "/qsso"
        self.acs_url = self.base + "/qsso/acs"
        sp_key, sp_crt = samlidp.key_path("sp")
        d = {
            "QSSOSPBaseURL": self.base,
            "QSSOSPEntityID": self.sp_entity,
            "QSSOSPCertFile": sp_crt,
            "QSSOSPPrivateKeyFile": sp_key,
            "QSSOIdPMetadataFile": self.idp_metadata,
            "QSSOCookieSecure": "Off",
            "QSSOEmailAttribute": EMAIL,
        }
        if isinstance(qsso, dict):
            d.update(qsso)
        self.qsso = d
        self.extra = extra
        self.preload = list(preload)
        self.conf = os.path.join(self.dir, "httpd.conf")
        self.error_log = os.path.join(self.dir, "error.log")
        self.write_conf()

    def write_conf(self):
        lines = ["ServerRoot %s" % self.dir, "ServerName 127.0.0.1",
                 "Listen 127.0.0.1:%d" % self.port,
                 "PidFile %s/httpd.pid" % self.dir,
                 "DefaultRuntimeDir %s" % self.dir,
                 "ErrorLog %s" % self.error_log,
                 "LogLevel warn qsso:info",
                 "ErrorLogFormat \"[%l] %M\"",
                 "TypesConfig /etc/mime.types"] + MPM_CONF[MPM] + [
                 "Timeout 10", "KeepAlive On",
                 # wrk counts the close after the 100th request of a
                 # keep-alive connection as a read error
                 "MaxKeepAliveRequests 0"]
        if os.getuid() == 0:
            lines += ["User www-data", "Group www-data"]
        for m in BASE_MODULES + self.preload:
            lines.append("LoadModule %s_module %s/mod_%s.so" % (m, MODDIR, m))
        lines.append("LoadModule qsso_module %s" % MODULE)
        lines += [
            "QSSOStore %s" % self.redis.url,
            'LogFormat "%h %r %>s" common',
            "CustomLog %s/access.log common" % self.dir,
            "DocumentRoot %s" % self.docroot,
            "AddType text/html .shtml",
            "AddOutputFilter INCLUDES .shtml",
            "DirectoryIndex index.shtml",
            "<Directory />", "    AllowOverride None", "</Directory>",
            "<Directory %s>" % self.docroot,
            "    Options +Includes", "    Require all granted",
            "</Directory>",
        ]
        for k, v in self.qsso.items():
            if v is None:
                continue
            for one in (v if isinstance(v, list) else [v]):
                lines.append("%s %s" % (k, one))
        lines += ["<Location /dash/>", "    AuthType qsso",
                  "    Require valid-user", "</Location>"]
        lines.append(self.extra)
        with open(self.conf, "w") as f:
            f.write("\n".join(lines) + "\n")
        os.chmod(self.dir, 0o755)

    def configtest(self):
        r = subprocess.run([HTTPD, "-t", "-f", self.conf],
                           capture_output=True, text=True)
        return r.returncode, r.stdout + r.stderr

    def start(self):
        rc, out = self.configtest()
        if rc != 0:
            raise RuntimeError("configtest failed:\n" + out)
        # A process group of its own: prefork signals its children (stop,
        # graceful restart) with killpg(getpgrp()), which in pytest's group
        # would end pytest too.
        self.proc = subprocess.Popen(
            [HTTPD, "-f", self.conf, "-DFOREGROUND"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True)
        wait_port(self.port, self.proc, "httpd")
        return self

    def stop(self):
        stop_pid(self.proc)

    def log(self):
        """error_log lines written since the last mark()."""
        try:
            with open(self.error_log, encoding="utf-8",
                      errors="replace") as f:
                f.seek(self.log_offset)
                return f.read().splitlines()
        except FileNotFoundError:
            return []

    def mark(self):
        try:
            self.log_offset = os.path.getsize(self.error_log)
        except FileNotFoundError:
            self.log_offset = 0

    def url(self, path):
        return self.base + path

    def children(self):
        """PIDs of this httpd's child processes (2 under event and worker;
        under prefork as many as the load so far made)."""
        out = []
        for name in os.listdir("/proc"):
            try:
                with open("/proc/%s/stat" % name) as f:
                    stat = f.read().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if int(stat[1]) == self.proc.pid and stat[0] not in "ZX":
                out.append(int(name))
        return out


def set_cookies(r):
    """Every Set-Cookie header of response r, as sent (requests would join
    them with ", "), as (name, value, attributes) with attribute names in
    lower case."""
    out = []
    for sc in r.raw.headers.getlist("Set-Cookie"):
        pair, *attrs = [a.strip() for a in sc.split(";")]
        name, _, value = pair.partition("=")
        out.append((name, value, {a.partition("=")[0].lower():
                                  a.partition("=")[2] for a in attrs}))
    return out


class Browser:
    """A browser stand-in: keeps the session cookie by hand (the test site
    is plain HTTP, and we want to see exactly what is sent) and follows
    the SAML flow step by step. `before` holds cookies (name, value) sent
    ahead of the session cookie, as a browser sends one set for a longer
    Path first."""

    def __init__(self, httpd):
        self.httpd = httpd
        self.http = requests.Session()
        self.cookie = None
        self.before = []
        self.idp = samlidp.IdP(IDP_ENTITY, IDP_SSO, httpd.sp_entity,
                               httpd.acs_url)

    def headers(self, extra=None):
        h = {}
        pairs = list(self.before) + ([self.cookie] if self.cookie else [])
        if pairs:
            h["Cookie"] = "; ".join("%s=%s" % p for p in pairs)
        if extra:
            h.update(extra)
        return h

    def get(self, path, headers=None, **kw):
        return self.http.get(self.httpd.url(path), headers=self.headers(
            headers), allow_redirects=False, timeout=10, **kw)

    def request(self, method, path, headers=None, **kw):
        return self.http.request(method, self.httpd.url(path),
                                 headers=self.headers(headers),
                                 allow_redirects=False, timeout=10, **kw)

    def start_login(self, path="/dash/"):
        """GET a protected path; returns (AuthnRequest XML, RelayState,
        the HTTP response)."""
        r = self.get(path)
        assert r.status_code == 302, (r.status_code, r.text[:300])
        loc = r.headers["Location"]
        assert loc.startswith(self.idp.sso_url + "?"), loc
        xml, q = samlidp.decode_redirect(loc)
        return xml, q.get("RelayState"), r

    @staticmethod
    def request_id(xml):
        return re.search(r'\bID="([^"]+)"', xml).group(1)

    def post_acs(self, saml_response, relay_state=None, raw=None):
        """POST to the ACS; saml_response is XML (base64-encoded here) or
        bytes already encoded when raw is set."""
        data = {"SAMLResponse": raw if raw is not None
                else samlidp.b64(saml_response)}
        if relay_state is not None:
            data["RelayState"] = relay_state
        r = self.http.post(self.httpd.acs_url, data=data,
                           allow_redirects=False, timeout=10)
        self.take_cookie(r)
        return r

    def logout_url(self, ret=None):
        """The session's logout link (with its token), as a page of the
        site would show it; ret is added already encoded."""
        import html as _html
        url = _html.unescape(env_of(self.get("/dash/").text)[
            "QSSO_LOGOUT_URL"])
        return url + ("&return=" + ret if ret is not None else "")

    def take_cookie(self, r):
        """Keeps the session cookie a response sets (the last one set, by
        whatever name the site uses) and drops it when the response
        expires it."""
        for name, value, attrs in set_cookies(r):
            if value and attrs.get("max-age") != "0":
                self.cookie = (name, value)
            elif self.cookie and self.cookie[0] == name:
                self.cookie = None

    def login(self, email="ana@example.org", attrs=None, path="/dash/",
              **kw):
        """A full SP-initiated login; returns the ACS response."""
        xml, relay, _ = self.start_login(path)
        resp = self.idp.response(attrs or {EMAIL: [email]}, email,
                                 in_response_to=self.request_id(xml), **kw)
        return self.post_acs(resp, relay)


_IDPS = {}


def idp_for(site):
    """One pysaml2 IdP per SP (entity, ACS): signing servers are costly."""
    key = (site.sp_entity, site.acs_url)
    if key not in _IDPS:
        _IDPS[key] = samlidp.IdP(IDP_ENTITY, IDP_SSO, site.sp_entity,
                                 site.acs_url)
    return _IDPS[key]


class Attempt:
    """One SP-initiated login: a fresh pending request and its browser;
    test files add the responses they need."""

    def __init__(self, site):
        self.site = site
        self.b = Browser(site)
        self.b.idp = idp_for(site)
        xml, self.relay, _ = self.b.start_login("/dash/")
        self.request_id = Browser.request_id(xml)


def env_of(text):
    """The KEY=value lines of the SSI page as a dict."""
    return dict(l.split("=", 1) for l in text.splitlines() if "=" in l)


def ref_of(text):
    m = re.search(r"reference (?:<code>)?([A-Z0-9]+)", text)
    return m.group(1) if m else None


def statuses(h, cookie, n):
    """n GETs of /dash/ with the session cookie, each on a new connection
    (so the requests spread over the httpd children); their statuses."""
    out = []
    for _ in range(n):
        c = http.client.HTTPConnection("127.0.0.1", h.port, timeout=10)
        c.request("GET", "/dash/", headers={
            "Cookie": "%s=%s" % cookie, "Connection": "close"})
        r = c.getresponse()
        body = r.read().decode()
        out.append(r.status)
        if r.status == 200:
            assert env_of(body)["REMOTE_USER"], body
        c.close()
    return out


def who(tag="u"):
    """A fresh email address, so that tests sharing a Redis never meet."""
    return "%s-%s@example.org" % (tag, uuid.uuid4().hex[:10])


def record(redis, username):
    """The user record of username in redis, as a dict (None if none)."""
    raw = redis.cli("--raw", "GET", "qsso:user:" + username.lower())
    return json.loads(raw) if raw else None


def gets(redis):
    """GET commands Redis has run since the last reset."""
    m = re.search(r"cmdstat_get:calls=(\d+)", redis.cli("INFO",
                                                       "commandstats"))
    return int(m.group(1)) if m else 0


def refused(refusal, site, b, r, status, code):
    """r is refusal `code` (via the `refusal` fixture: status, page, one
    log line with its reference), and no session came of it."""
    line = refusal(site, r, status, code)
    assert "Set-Cookie" not in r.headers, r.headers
    assert b.cookie is None
    assert b.get("/dash/").status_code == 302      # still signed out
    return line
