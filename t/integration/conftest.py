"""pytest fixtures: a real redis-server and real httpd processes per test
module, and a check after every test that error_log holds no error or
warning line the test did not expect. Two rules for the whole suite: a
skipped test is a failure (a missing prerequisite must be installed, not
passed over), and a test module that leaves a process running fails
(t/lib/leftovers.py)."""
import os
import subprocess
import re
import shutil
import tempfile
import uuid

import pytest

import harness
import leftovers

RUNNING = []

# Every process this pytest starts inherits it: the run's value (from
# t/run-all.sh, if it set one) and this pass's own.
PASS = "%s:%s" % (os.environ.get(leftovers.VAR) or "pytest",
                  uuid.uuid4().hex[:12])
os.environ[leftovers.VAR] = PASS
_WORKDIRS = []


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A skip is a failure: CI has every prerequisite (tools/install-deps.sh,
    ../shared beside the clone), so a test that would skip points at a
    broken setup that must not pass as green."""
    outcome = yield
    rep = outcome.get_result()
    if rep.skipped and not hasattr(rep, "wasxfail"):
        rep.outcome = "failed"
        reason = rep.longrepr[2] if isinstance(rep.longrepr, tuple) \
            else str(rep.longrepr)
        rep.longrepr = "skipped, which this suite counts as a failure: %s" \
            % reason


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    outcome = yield
    rep = outcome.get_result()
    if rep.skipped:
        rep.outcome = "failed"
        rep.longrepr = "module skipped, which this suite counts as a " \
            "failure: %s" % (rep.longrepr,)


def _leftovers(what):
    """Fails (and stops them) when processes of this pass still run."""
    found = leftovers.settle(PASS, _WORKDIRS)
    if found:
        leftovers.stop(found)
        pytest.fail("%s left %d process(es) running (now stopped):\n%s"
                    % (what, len(found), leftovers.describe(found)),
                    pytrace=False)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item, nextitem):
    """After each test module, once its fixtures are torn down (which a
    module fixture such as `redis` is only after the module's last test):
    nothing it started is still running. A failure here is an error in the
    teardown of the module's last test."""
    yield
    if nextitem is None or getattr(nextitem, "module", None) \
            is not item.module:
        _leftovers(item.module.__name__)


def pytest_sessionfinish(session, exitstatus):
    found = leftovers.settle(PASS, _WORKDIRS)
    if found:
        leftovers.stop(found)
        session.config.get_terminal_writer().line(
            "FAILED: the test session left %d process(es) running (now "
            "stopped):\n%s" % (len(found), leftovers.describe(found)),
            red=True)
        session.exitstatus = 1


@pytest.fixture(scope="session")
def workdir():
    d = tempfile.mkdtemp(prefix="qsso-it-")
    os.chmod(d, 0o755)      # httpd's workers (www-data) read from here
    _WORKDIRS.append(d)
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="session", autouse=True)
def built_module():
    if not os.path.exists(harness.MODULE):
        pytest.fail("build the module first: make -f Makefile.apxs")
    for tool in ("redis-server", harness.HTTPD, "/usr/bin/xmlsec1"):
        if not shutil.which(tool):
            pytest.fail("%s is missing: run tools/install-deps.sh" % tool)


@pytest.fixture(scope="module")
def redis(workdir):
    r = harness.Redis(workdir).start()
    yield r
    r.stop()


class Servers:
    """Starts httpd instances and stops them at the end of the scope."""

    def __init__(self, workdir, redis):
        self.workdir = workdir
        self.redis = redis
        self.started = []

    def start(self, **kw):
        h = harness.Httpd(self.workdir, kw.pop("redis", self.redis), **kw)
        h.start()
        self.started.append(h)
        RUNNING.append(h)
        return h

    def stop_all(self):
        for h in self.started:
            h.stop()
            if h in RUNNING:
                RUNNING.remove(h)


@pytest.fixture(scope="module")
def servers(workdir, redis):
    s = Servers(workdir, redis)
    yield s
    s.stop_all()


@pytest.fixture
def fresh(workdir, redis):
    """httpd instances that live for one test only."""
    s = Servers(workdir, redis)
    yield s
    s.stop_all()


@pytest.fixture(scope="module")
def site(servers):
    """The default site: redirect binding, unsigned requests, /dash/
    protected."""
    return servers.start()


class LogWatch:
    """What a test expects in error_log. Lines at [error] or [warn] level
    that match no expectation fail the test."""

    def __init__(self):
        self.expected = []

    def expect(self, pattern):
        self.expected.append(re.compile(pattern))

    def refused(self, httpd, code, ref=None):
        """Asserts exactly one log line for refusal `code` (and ref)."""
        self.expect("QSSO%d" % code)
        lines = [l for l in httpd.log() if re.search(r"\] QSSO%d: " % code,
                                                    l)]
        assert len(lines) == 1, "want one QSSO%d line, got %r" % (
            code, httpd.log()[-5:])
        if ref:
            assert "ref=%s" % ref in lines[0], lines[0]
        return lines[0]


@pytest.fixture(autouse=True)
def log():
    w = LogWatch()
    for h in RUNNING:
        h.mark()
    yield w
    bad = []
    for h in list(RUNNING):
        for line in h.log():
            # A child that died of a signal is logged at notice level.
            if not re.match(r"\[(emerg|alert|crit|error|warn)\]", line) \
                    and "exit signal" not in line:
                continue
            if any(p.search(line) for p in w.expected):
                continue
            bad.append(line)
    assert not bad, "unexpected error_log lines:\n" + "\n".join(bad)


def assert_refusal(r, status, code):
    assert r.status_code == status, (r.status_code, r.text[:400])
    assert "QSSO%d" % code in r.text, r.text[:400]
    ref = harness.ref_of(r.text)
    assert ref, r.text[:400]
    return ref


@pytest.fixture
def refusal(log):
    """refusal(httpd, response, status, code): the page and the one log
    line agree on code and reference."""
    def check(httpd, r, status, code):
        ref = assert_refusal(r, status, code)
        return log.refused(httpd, code, ref)
    return check


# ---- qssoctl: test_qssoctl.py and the session-cache tests ------------------

QSSOCTL = os.path.join(harness.ROOT, "qssoctl")
SOURCES = [os.path.join(harness.ROOT, "Makefile.apxs")] + [
    os.path.join(d, f)
    for d in (os.path.join(harness.ROOT, "tools"),
              os.path.join(harness.ROOT, "modules"))
    for f in os.listdir(d) if f.endswith((".c", ".h"))]


@pytest.fixture(scope="module")
def qssoctl():
    """The built tool; rebuilt when a source is newer (t/run-all.sh builds
    it with `make -f Makefile.apxs` first)."""
    newest = max(os.path.getmtime(s) for s in SOURCES)
    if not os.path.exists(QSSOCTL) or os.path.getmtime(QSSOCTL) < newest:
        r = subprocess.run(["make", "-s", "-f", "Makefile.apxs", "qssoctl"],
                           cwd=harness.ROOT, capture_output=True, text=True)
        assert r.returncode == 0, r.stdout + r.stderr
    return QSSOCTL


@pytest.fixture
def ctl(qssoctl, redis):
    """ctl(*args) runs qssoctl against the test Redis."""
    def run(*args, store=None, env=None, timeout=30):
        e = dict(os.environ)
        e.pop("QSSO_STORE", None)
        e.update(env or {})
        cmd = [qssoctl] + (["--store", store or redis.url]
                           if store is not False else []) + list(args)
        r = subprocess.run(cmd, capture_output=True, timeout=timeout, env=e)
        # Decoded by hand: text=True would turn CSV's CRLF into LF.
        r.stdout, r.stderr = r.stdout.decode(), r.stderr.decode()
        return r
    return run
