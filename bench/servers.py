"""The servers of the bench: redis-server and httpd from the integration
harness (t/integration/harness.py), with a config of their own: mpm_event
sized for a 2-core machine, LogLevel warn, no access log, a 1 KB file under
/public/ (open) and under /dash/ (protected), and a fixed public base URL so
that responses signed for it stay valid whatever loopback port httpd gets.
"""
import os
import re
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "t", "integration"))
import harness  # noqa: E402
import samlidp  # noqa: E402  (harness put t/lib on the path)

Redis = harness.Redis
IDP_ENTITY = harness.IDP_ENTITY
IDP_SSO = harness.IDP_SSO
EMAIL = harness.EMAIL
HTTPD = harness.HTTPD
MODDIR = harness.MODDIR

# What browsers would see behind a proxy; QSSOSPBaseURL makes mod_qsso check
# Destination and Recipient against it, so signed responses are port-free.
QSSO_PUBLIC = "http://qsso-bench.invalid"
MELLON_PUBLIC = "http://mellon-bench.invalid"
FILE_1K = "1k.html"

# 2 cores: two processes of 32 threads, all started up front and never
# reaped (no process churn inside a measurement), keep-alive unlimited so a
# run measures requests, not TCP handshakes.
MPM = """StartServers 2
ServerLimit 2
ThreadsPerChild 32
ThreadLimit 32
MaxRequestWorkers 64
MinSpareThreads 32
MaxSpareThreads 64
MaxConnectionsPerChild 0
KeepAlive On
MaxKeepAliveRequests 0
KeepAliveTimeout 5
Timeout 10
"""

BASE_MODULES = ["mpm_event", "authn_core", "authz_core", "authz_user", "mime",
                "dir", "unixd"]


class BenchHttpd(harness.Httpd):
    """An httpd for the bench. kind is "qsso" (store given by `store`, a
    QSSOStore value) or "mellon" (mod_auth_mellon, Debian's package)."""

    def __init__(self, workdir, redis, kind="qsso", store=None,
                 module=None):
        self.kind = kind
        self.store = store
        self.module = module or harness.MODULE
        self.public = QSSO_PUBLIC if kind == "qsso" else MELLON_PUBLIC
        super().__init__(workdir, redis)
        for d in ("public", "dash"):
            with open(os.path.join(self.docroot, d, FILE_1K), "w") as f:
                f.write("x" * 1023 + "\n")
        # The IdP signs for the public URLs; requests go to loopback.
        self.sp_entity = self.public + ("/qsso" if kind == "qsso"
                                        else "/mellon/metadata")
        self.acs_url = self.public + ("/qsso/acs" if kind == "qsso"
                                      else "/mellon/postResponse")
        self.acs_path = "/qsso/acs" if kind == "qsso" \
            else "/mellon/postResponse"
        if kind == "mellon":
            self.sp_metadata = os.path.join(self.dir, "sp-metadata.xml")
            with open(self.sp_metadata, "w") as f:
                f.write(mellon_sp_metadata(self.sp_entity, self.acs_url,
                                           self.public))
        self.ready = True
        self.write_conf()

    def write_conf(self):
        if not getattr(self, "ready", False):
            return      # harness.Httpd.__init__ calls this before we are set
        lines = ["ServerRoot %s" % self.dir,
                 "Listen 127.0.0.1:%d" % self.port,
                 "PidFile %s/httpd.pid" % self.dir,
                 "DefaultRuntimeDir %s" % self.dir,
                 "ErrorLog %s" % self.error_log,
                 "LogLevel warn",
                 "TypesConfig /etc/mime.types", MPM]
        if os.getuid() == 0:
            lines += ["User www-data", "Group www-data"]
        for m in BASE_MODULES:
            path = "%s/mod_%s.so" % (MODDIR, m)
            if os.path.exists(path):
                lines.append("LoadModule %s_module %s" % (m, path))
        lines += ["DocumentRoot %s" % self.docroot,
                  "<Directory />", "    AllowOverride None", "</Directory>",
                  "<Directory %s>" % self.docroot,
                  "    Require all granted", "</Directory>"]
        lines += self.qsso_conf() if self.kind == "qsso" \
            else self.mellon_conf()
        with open(self.conf, "w") as f:
            f.write("\n".join(lines) + "\n")
        os.chmod(self.dir, 0o755)

    def qsso_conf(self):
        sp_key, sp_crt = samlidp.key_path("sp")
        lines = []
        if self.store == "shm":
            # The embedded store is built on Apache's socache.
            lines.append("LoadModule socache_shmcb_module "
                         "%s/mod_socache_shmcb.so" % MODDIR)
        return lines + [
            "ServerName 127.0.0.1",
            "LoadModule qsso_module %s" % self.module,
            "QSSOStore %s" % (self.store or self.redis.url),
            "QSSOSPBaseURL %s" % self.public,
            "QSSOSPEntityID %s" % self.sp_entity,
            "QSSOSPCertFile %s" % sp_crt,
            "QSSOSPPrivateKeyFile %s" % sp_key,
            "QSSOIdPMetadataFile %s" % self.idp_metadata,
            "QSSOCookieSecure Off",
            "QSSOEmailAttribute %s" % EMAIL,
            "QSSODefaultRelayState /dash/%s" % FILE_1K,
            "<Location /dash/>", "    AuthType qsso",
            "    Require valid-user", "</Location>"]

    def mellon_conf(self):
        sp_key, sp_crt = samlidp.key_path("sp")
        # UseCanonicalName: mellon checks Recipient against the URL it
        # rebuilds from ServerName, so the public name makes it port-free.
        return [
            "ServerName %s:80" % self.public,
            "UseCanonicalName On",
            "LoadModule auth_mellon_module %s/mod_auth_mellon.so" % MODDIR,
            "<Location />",
            "    MellonEndpointPath /mellon",
            "    MellonSPPrivateKeyFile %s" % sp_key,
            "    MellonSPCertFile %s" % sp_crt,
            "    MellonSPMetadataFile %s" % self.sp_metadata,
            "    MellonIdPMetadataFile %s" % self.idp_metadata,
            "    MellonSecureCookie Off",
            "    MellonDefaultLoginPath /dash/%s" % FILE_1K,
            "</Location>",
            "<Location /dash/>", "    AuthType Mellon",
            "    MellonEnable auth", "    Require valid-user",
            "</Location>"]

    def start(self):
        rc, out = self.configtest()
        if rc != 0:
            raise RuntimeError("configtest failed: " + first_error(out))
        self.proc = subprocess.Popen(
            [HTTPD, "-f", self.conf, "-DFOREGROUND"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        harness.wait_port(self.port, self.proc, "httpd")
        # Wait for both children, so no measurement sees a process start.
        end = time.time() + 10
        while time.time() < end and len(self.children()) < 2:
            time.sleep(0.05)
        return self

    def children(self):
        return children_of(self.proc.pid) if self.proc else []

    def pids(self):
        return [self.proc.pid] + self.children()


def first_error(text):
    """The line of configtest output that says what is wrong (httpd puts
    the reason on the line after "Syntax error on line N of FILE:")."""
    lines = [l.strip() for l in text.splitlines() if l.strip()]
    for i, l in enumerate(lines):
        if l.endswith(":") and i + 1 < len(lines):
            return ("%s %s" % (l.split(" of ")[0], lines[i + 1]))[:300]
        if re.search(r"error|invalid|QSSO\d+", l, re.I):
            return l[:300]
    return lines[0][:300] if lines else "(no output)"


def mellon_sp_metadata(entity_id, acs_url, public):
    cert = samlidp.cert_b64("sp")
    md = samlidp.NS["md"]
    return (
        '<?xml version="1.0"?>\n'
        '<md:EntityDescriptor xmlns:md="%s" '
        'xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="%s">'
        '<md:SPSSODescriptor AuthnRequestsSigned="true" '
        'WantAssertionsSigned="true" protocolSupportEnumeration='
        '"urn:oasis:names:tc:SAML:2.0:protocol">'
        '<md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data>'
        '<ds:X509Certificate>%s</ds:X509Certificate></ds:X509Data>'
        '</ds:KeyInfo></md:KeyDescriptor>'
        '<md:SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:'
        'bindings:HTTP-Redirect" Location="%s/mellon/logout"/>'
        '<md:AssertionConsumerService index="0" isDefault="true" '
        'Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" '
        'Location="%s"/>'
        '</md:SPSSODescriptor></md:EntityDescriptor>\n'
        % (md, entity_id, cert, public, acs_url))


# --- process accounting from /proc -------------------------------------

CLK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def _stat(pid):
    with open("/proc/%d/stat" % pid) as f:
        return f.read().rsplit(")", 1)[1].split()


def children_of(ppid):
    out = []
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            if int(_stat(int(p))[1]) == ppid:
                out.append(int(p))
        except (OSError, IndexError):
            pass
    return sorted(out)


def cpu_seconds(pid, reaped=False):
    """utime+stime of pid (plus its reaped children's with reaped)."""
    try:
        f = _stat(pid)
    except OSError:
        return 0.0
    t = int(f[11]) + int(f[12])
    if reaped:
        t += int(f[13]) + int(f[14])
    return t / CLK


def sched_seconds(pid):
    """On-CPU time of every thread of pid, from schedstat (nanoseconds,
    exact) rather than stat (clock ticks of 10 ms, too coarse for a run of
    a few hundred logins); stat when schedstat is missing."""
    total, seen = 0, False
    try:
        for t in os.listdir("/proc/%d/task" % pid):
            try:
                with open("/proc/%d/task/%s/schedstat" % (pid, t)) as f:
                    total += int(f.read().split()[0])
                    seen = True
            except (OSError, ValueError, IndexError):
                pass
    except OSError:
        return 0.0
    return total / 1e9 if seen else cpu_seconds(pid)


def httpd_cpu(h):
    """CPU seconds of an httpd: the parent (with children it reaped) and
    every thread of every live child."""
    return cpu_seconds(h.proc.pid, reaped=True) + sum(
        sched_seconds(p) for p in h.children())


def rss_kib(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            m = re.search(r"VmRSS:\s+(\d+) kB", f.read())
        return int(m.group(1)) if m else 0
    except OSError:
        return 0


def machine_busy():
    """(busy, total) jiffies of the whole machine from /proc/stat."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + v[4]
    return sum(v) - idle, sum(v)


def stop(proc):
    if proc is not None and proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
