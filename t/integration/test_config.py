"""Bad configuration fails `apache2 -t` (what `apachectl configtest`
runs) with one message naming the directive, the file and the problem;
good configuration, including every file in conf-examples/, passes."""
import glob
import os
import re
import subprocess

import pytest

import harness
import samlidp


def write(workdir, name, text):
    path = os.path.join(workdir, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def configtest(workdir, redis, **kw):
    h = harness.Httpd(workdir, redis, **kw)
    rc, out = h.configtest()
    return h, rc, out


def test_good_config_passes_configtest(workdir, redis):
    _, rc, out = configtest(workdir, redis)
    assert rc == 0, out
    assert "Syntax OK" in out


@pytest.mark.parametrize("directive,value,words", [
    ("QSSOIdPMetadataFile", "/nonexistent/idp.xml",
     ["QSSOIdPMetadataFile", "/nonexistent/idp.xml"]),
    ("QSSOSPCertFile", "/nonexistent/sp.crt",
     ["QSSOSPCertFile", "/nonexistent/sp.crt"]),
    ("QSSOSPPrivateKeyFile", "/nonexistent/sp.key",
     ["QSSOSPPrivateKeyFile", "/nonexistent/sp.key"]),
    ("QSSOClockSkew", "9x", ["QSSOClockSkew", "9x"]),
    ("QSSOSessionLifetime", "-5", ["QSSOSessionLifetime", "-5"]),
    ("QSSOSSOBinding", "artifact", ["QSSOSSOBinding", "artifact"]),
    ("QSSOCookieSameSite", "Sometimes", ["QSSOCookieSameSite", "Sometimes"]),
    ("QSSOSPBaseURL", "portal.example.org", ["QSSOSPBaseURL"]),
    ("QSSODefaultRelayState", "https://evil.example/",
     ["QSSODefaultRelayState"]),
    ("QSSOEndpointPath", "qsso", ["QSSOEndpointPath"]),
])
def test_bad_directive_value_fails_configtest_naming_it(workdir, redis,
                                                        directive, value,
                                                        words):
    h, rc, out = configtest(workdir, redis, qsso={directive: value})
    assert rc != 0, out
    for w in words:
        assert w in out, out
    assert "line" in out and h.conf in out, out


def test_metadata_that_is_not_xml_is_refused(workdir, redis):
    bad = write(workdir, "junk-idp.xml", "this is not metadata\n")
    _, rc, out = configtest(workdir, redis,
                            qsso={"QSSOIdPMetadataFile": bad})
    assert rc != 0 and "QSSOIdPMetadataFile" in out and bad in out, out


def test_sp_metadata_given_as_idp_metadata_is_refused(workdir, redis):
    sp = write(workdir, "sp-as-idp.xml", samlidp.sp_metadata(
        "https://sp.example.org", "https://sp.example.org/acs"))
    _, rc, out = configtest(workdir, redis, qsso={"QSSOIdPMetadataFile": sp})
    assert rc != 0 and sp in out and "IDPSSODescriptor" in out, out


def test_idp_metadata_without_signing_certificate_is_refused(workdir, redis):
    md = re.sub(r"<md:KeyDescriptor.*?</md:KeyDescriptor>", "",
                samlidp.idp_metadata("https://idp.x", "https://idp.x/sso"))
    path = write(workdir, "nocert-idp.xml", md)
    _, rc, out = configtest(workdir, redis,
                            qsso={"QSSOIdPMetadataFile": path})
    assert rc != 0 and path in out and "certificate" in out, out


def test_metadata_with_doctype_is_refused(workdir, redis):
    md = samlidp.idp_metadata("https://idp.x", "https://idp.x/sso")
    md = md.replace('<?xml version="1.0"?>\n',
                    '<?xml version="1.0"?>\n<!DOCTYPE x [<!ENTITY e '
                    '"boom">]>\n')
    path = write(workdir, "doctype-idp.xml", md)
    _, rc, out = configtest(workdir, redis,
                            qsso={"QSSOIdPMetadataFile": path})
    assert rc != 0 and path in out, out


def test_unreadable_private_key_is_refused(workdir, redis):
    path = write(workdir, "garbage.key", "-----BEGIN PRIVATE KEY-----\n"
                 "Zm9v\n-----END PRIVATE KEY-----\n")
    _, rc, out = configtest(workdir, redis,
                            qsso={"QSSOSPPrivateKeyFile": path})
    assert rc != 0 and "QSSOSPPrivateKeyFile" in out and path in out, out


def test_key_not_matching_certificate_is_refused(workdir, redis):
    _, rc, out = configtest(workdir, redis, qsso={
        "QSSOSPPrivateKeyFile": samlidp.key_path("attacker")[0]})
    assert rc != 0, out
    assert "attacker.key" in out and "sp.crt" in out, out


@pytest.mark.parametrize("missing", ["QSSOSPEntityID", "QSSOIdPMetadataFile",
                                     "QSSOEmailAttribute"])
def test_missing_required_directive_where_authtype_qsso_is_used(
        workdir, redis, missing):
    h, rc, out = configtest(workdir, redis, qsso={missing: None})
    assert rc != 0, out
    assert missing in out and "/dash/" in out, out
    # The message points at the AuthType line.
    assert re.search(re.escape(h.conf) + r":\d+", out), out


def test_sign_request_without_key_is_refused(workdir, redis):
    _, rc, out = configtest(workdir, redis, qsso={
        "QSSOSignRequest": "On", "QSSOSPPrivateKeyFile": None,
        "QSSOSPCertFile": None})
    assert rc != 0 and "QSSOSignRequest" in out, out


def test_store_is_server_wide_only(workdir, redis):
    h, rc, out = configtest(workdir, redis, extra=(
        "<Location /x/>\n    QSSOStore redis://127.0.0.1:1/0\n</Location>"))
    assert rc != 0 and "QSSOStore" in out, out


def test_bad_store_url_is_refused(workdir, redis):
    h = harness.Httpd(workdir, redis)
    with open(h.conf) as f:
        conf = f.read().replace(redis.url, "memcached://127.0.0.1:1")
    with open(h.conf, "w") as f:
        f.write(conf)
    rc, out = h.configtest()
    assert rc != 0 and "QSSOStore" in out and "memcached" in out, out


def test_missing_store_is_refused_where_authtype_qsso_is_used(workdir,
                                                              redis):
    h = harness.Httpd(workdir, redis)
    with open(h.conf) as f:
        conf = f.read().replace("QSSOStore %s\n" % redis.url, "")
    with open(h.conf, "w") as f:
        f.write(conf)
    rc, out = h.configtest()
    assert rc != 0 and "QSSOStore" in out, out


EXAMPLES = sorted(glob.glob(os.path.join(harness.ROOT, "conf-examples",
                                         "*.conf")))


@pytest.mark.parametrize("example", EXAMPLES,
                         ids=[os.path.basename(e) for e in EXAMPLES])
def test_conf_example_passes_configtest(workdir, redis, example):
    """Each example, with its /etc paths pointed at test files, loads."""
    with open(example) as f:
        text = f.read()
    md = write(workdir, "example-idp.xml", samlidp.idp_metadata(
        "https://idp.example.com", "https://idp.example.com/sso"))
    sp_key, sp_crt = samlidp.key_path("sp")
    text = re.sub(r"/etc/apache2/qsso/[\w.-]+-metadata\.xml", md, text)
    text = text.replace("/etc/apache2/qsso/sp.crt", sp_crt)
    text = text.replace("/etc/apache2/qsso/sp.key", sp_key)
    text = text.replace("/usr/lib/apache2/modules/mod_qsso.so",
                        harness.MODULE)
    port = harness.free_port()
    text = text.replace("<VirtualHost *:443>",
                        "<VirtualHost 127.0.0.1:%d>" % port)
    text = text.replace("redis://127.0.0.1:6379/0", redis.url)
    d = os.path.join(workdir, "example-" + os.path.basename(example))
    os.makedirs(d, exist_ok=True)
    mods = ["mpm_" + harness.MPM, "authn_core", "authz_core", "authz_user",
            "headers", "proxy", "proxy_http", "env", "setenvif", "mime",
            "rewrite"]
    head = ["ServerRoot " + d, "ServerName 127.0.0.1",
            "Listen 127.0.0.1:%d" % port, "PidFile %s/pid" % d,
            "ErrorLog %s/error.log" % d, "DefaultRuntimeDir " + d]
    head += ["LoadModule %s_module %s/mod_%s.so" % (m, harness.MODDIR, m)
             for m in mods]
    conf = write(d, "httpd.conf", "\n".join(head) + "\n" + text)
    r = subprocess.run([harness.HTTPD, "-t", "-f", conf],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
