/*
 * Every refusal a sysadmin may see: a stable code, its HTTP status, its log
 * level and the fix. A refusal is logged in qsso_refuse.c and nowhere else,
 * so the code is its log tag. docs/errors.md has one section per code;
 * t/check/check_sources.py keeps the two in step. This file needs no
 * request, so logic that returns codes links without httpd.
 */
#include <stdarg.h>
#include <httpd.h>
#include <http_log.h>
#include <apr_strings.h>

#include "qsso.h"
#include "qsso_errors.h"

static const qsso_err_entry_t qsso_err_table[] = {
    {2001, 400, APLOG_WARNING, "The return address is not on this site",
     "links to the login or logout endpoint must use a local path such as "
     "return=/dashboard/"},
    {2002, 401, APLOG_INFO, "Sign-in required",
     "none: script and non-GET requests without a session get 401 so the "
     "page can start a login itself"},
    {2003, 500, APLOG_ERR, "The sign-in request could not be created",
     "check QSSOSPPrivateKeyFile and the IdP SSO endpoints"},
    {2010, 429, APLOG_WARNING, "Too many sign-ins from your network",
     "one client address started more logins than "
     "QSSOPendingLoginsPerAddress allows within 180 s; if many users share "
     "it (a NAT, or a proxy in front of Apache without mod_remoteip), "
     "raise the directive"},
    {2101, 405, APLOG_WARNING, "The sign-in endpoint only accepts POST",
     "configure the IdP to use the HTTP-POST binding for the ACS URL"},
    {2102, 413, APLOG_WARNING, "The sign-in response is too large",
     "the IdP sends more than 256 KiB; reduce the attributes it releases"},
    {2103, 400, APLOG_WARNING, "The sign-in response is missing or damaged",
     "the POST carried no base64 SAMLResponse; check the IdP's ACS binding"},
    {2104, 403, APLOG_ERR, "The sign-in was meant for another service",
     "set the Audience at the IdP to QSSOSPEntityID"},
    {2105, 400, APLOG_WARNING, "The sign-in response is damaged",
     "the SAMLResponse is not well-formed XML"},
    {2106, 400, APLOG_WARNING, "The sign-in response is refused",
     "a DOCTYPE is never sent by a real IdP; this was likely an attack"},
    {2107, 400, APLOG_WARNING, "The sign-in response is damaged",
     "the message is not a samlp:Response; check the IdP's ACS binding"},
    {2108, 403, APLOG_WARNING, "The sign-in response is refused",
     "two elements share an ID; this was likely a signature-wrapping attack"},
    {2109, 403, APLOG_ERR, "The sign-in response is refused",
     "the IdP must send exactly one Assertion or EncryptedAssertion (to "
     "decrypt one, set QSSOSPPrivateKeyFile)"},
    {2110, 403, APLOG_ERR, "The sign-in response is not signed",
     "make the IdP sign the Response or the Assertion"},
    {2111, 403, APLOG_ERR, "The sign-in response signature is invalid",
     "if the IdP rotated its certificate, update QSSOIdPMetadataFile"},
    {2112, 403, APLOG_WARNING, "The sign-in response is refused",
     "the signature does not cover its parent element; likely an attack"},
    {2113, 403, APLOG_ERR, "The sign-in response uses a weak algorithm",
     "configure the IdP to sign with RSA-SHA256 and digest with SHA-256, "
     "or list its algorithm in QSSOSignatureAlgorithms"},
    {2114, 403, APLOG_WARNING, "The identity provider refused the sign-in",
     "see the IdP's status and log for this user"},
    {2115, 403, APLOG_ERR, "The sign-in came from an unknown identity provider",
     "QSSOIdPMetadataFile must describe the IdP that sends the responses"},
    {2116, 403, APLOG_ERR, "The sign-in was sent to another address",
     "set the ACS URL at the IdP to the one in the SP metadata, or set "
     "QSSOSPBaseURL to the address browsers use"},
    {2117, 403, APLOG_WARNING, "The sign-in took too long or was already used",
     "the pending request expired (180 s) or was used; start again"},
    {2118, 403, APLOG_WARNING, "Sign-in must start at this site",
     "set QSSOAllowIdPInitiated On to accept IdP-initiated logins"},
    {2119, 403, APLOG_ERR, "The sign-in is not valid yet",
     "the clocks of IdP and this server differ; sync with NTP or raise "
     "QSSOClockSkew"},
    {2120, 403, APLOG_WARNING, "The sign-in has expired",
     "the assertion is past NotOnOrAfter; check clocks (NTP) or retry"},
    {2121, 403, APLOG_ERR, "The sign-in was sent to another address",
     "the bearer SubjectConfirmation Recipient must be this ACS URL"},
    {2122, 403, APLOG_WARNING, "The sign-in has expired",
     "the SubjectConfirmationData is past NotOnOrAfter; check clocks"},
    {2123, 403, APLOG_WARNING, "The sign-in response is refused",
     "SubjectConfirmationData InResponseTo differs from the Response's"},
    {2124, 403, APLOG_WARNING, "The sign-in was already used",
     "an assertion is accepted once; the user should sign in again"},
    {2125, 403, APLOG_WARNING, "The sign-in response is refused",
     "RelayState does not belong to this request; the IdP must return it "
     "unchanged"},
    {2126, 403, APLOG_ERR, "The sign-in response is incomplete",
     "the assertion needs an ID, Issuer, Subject and NameID"},
    {2127, 403, APLOG_ERR, "The sign-in response uses a refused transform",
     "the IdP must canonicalize with exclusive C14N and use only the "
     "enveloped-signature and exclusive C14N transforms"},
    {2128, 403, APLOG_ERR, "The sign-in response could not be decrypted",
     "the IdP must encrypt to the certificate of this SP's metadata with an "
     "algorithm of QSSOEncryptionAlgorithms"},
    {2129, 403, APLOG_ERR, "The sign-in response must be encrypted",
     "turn assertion encryption on at the IdP, or set "
     "QSSORequireEncryptedAssertion Off"},
    {2130, 400, APLOG_WARNING, "The sign-in response is refused",
     "the XML nests more than 64 levels deep; no IdP does, likely an "
     "attack"},
    {2131, 403, APLOG_ERR, "The sign-in response has too many attributes",
     "release at most 256 attributes to this SP at the IdP"},
    {2132, 403, APLOG_ERR, "The sign-in response has a value that is too "
     "large", "release no attribute value over 16 KiB to this SP at the "
     "IdP"},
    {3001, 503, APLOG_ERR, "Sign-in is temporarily unavailable",
     "the session store (QSSOStore) is unreachable or failing; check Redis"},
    {3013, 400, APLOG_WARNING, "Your browser holds sign-ins of two "
     "accounts for this site", "something else on this host or a sibling "
     "domain sets cookies named like the session cookie: serve the site "
     "over HTTPS (the __Host- cookie cannot be shadowed) or set a "
     "QSSOCookieName nothing else uses; the user clears this site's "
     "cookies"},
    {3030, 503, APLOG_ERR, "Sign-in is temporarily unavailable",
     "the replay cache of QSSOStore shm is full of assertion IDs that have "
     "not expired; raise shm:BYTES (1/8 of it holds them) or use Redis"},
    {4001, 403, APLOG_ERR, "Your account is missing its email address",
     "release the attribute named by QSSOEmailAttribute at the IdP"},
    {4002, 403, APLOG_ERR, "Your account is missing its username",
     "release the attribute named by QSSOUsernameAttribute at the IdP"},
    {4004, 403, APLOG_WARNING, "Your user type is not allowed here",
     "add a QSSOUserTypeMap line for this user type, or correct the user "
     "type at the IdP"},
    {4005, 403, APLOG_WARNING, "Your email domain is not allowed here",
     "add the domain to QSSOEmailDomains if these users should sign in"},
    {4006, 403, APLOG_ERR, "Your account has an attribute that is too long",
     "the IdP sends a dashboard attribute over 1000 characters; shorten it "
     "or release fewer values"},
    {4007, 403, APLOG_ERR, "Your account is missing its unique ID",
     "release the attribute named by QSSOUniqueIDAttribute at the IdP"},
    {4008, 403, APLOG_WARNING, "Your account does not exist here yet",
     "create the user (SCIM or qssoctl) or set QSSOJITProvisioning On"},
    {4009, 403, APLOG_WARNING, "Your account is deactivated",
     "account deactivated: ask your administrator to reactivate it"},
    {4010, 403, APLOG_ERR, "Your account could not be matched safely",
     "two user records could be this person; resolve them by hand "
     "(qssoctl users show) before the next login"},
    {4020, 403, APLOG_ERR, "Your account could not be matched safely",
     "the user record this IdP user is linked to now has another email; "
     "correct the email, or delete the link (qsso:user-alias:) by hand"},

    {4030, 403, APLOG_ERR, "Your account has a value this site cannot keep "
     "apart", "the IdP sends a group or dashboard attribute value holding "
     "\"::\", the separator of multi-values at the backend; send the parts "
     "as separate AttributeValues (or map the group with QSSOGroupMap)"},
    {5001, 403, APLOG_WARNING, "You do not have access to this page",
     "the user does not meet the Require rule of this location; change the "
     "user's attributes at the IdP or the rule"},
};

const qsso_err_entry_t *qsso_err_lookup(int code)
{
    apr_size_t i;

    for (i = 0; i < sizeof(qsso_err_table) / sizeof(qsso_err_table[0]); i++)
        if (qsso_err_table[i].code == code)
            return &qsso_err_table[i];
    return NULL;
}

int qsso_err_status(int code)
{
    const qsso_err_entry_t *e = qsso_err_lookup(code);

    return e ? e->status : HTTP_INTERNAL_SERVER_ERROR;
}

int qsso_err_set(apr_pool_t *p, qsso_err_t *err, int code, const char *fmt,
                 ...)
{
    va_list ap;

    va_start(ap, fmt);
    err->detail = apr_pvsprintf(p, fmt, ap);
    va_end(ap);
    err->code = code;
    err->status = qsso_err_status(code);
    return code;
}
