/*
 * qsso_metadata_parse_idp: an IdP EntityDescriptor (or EntitiesDescriptor)
 * as QSSOIdPMetadataFile reads it, then qsso_keys_prepare_idp on what it
 * accepted, as post_config does. Metadata comes from the sysadmin, but it
 * is often fetched from the IdP over the network, so it gets the same
 * treatment as a response. The input is not NUL-terminated: the parser
 * must honour the length.
 *
 * Invariants: an accepted file has an entity ID, at least one signing
 * certificate, one SSO endpoint, and its file name; a refusal is a message.
 */
#include <string.h>

#include "qsso.h"
#include "qsso_keys.h"
#include "qsso_metadata.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = qsso_fuzz_pool();
    qsso_idp_t *idp = NULL;
    const char *err;

    err = qsso_metadata_parse_idp(p, "fuzz-metadata.xml", (const char *)data,
                                  size, &idp);
    if (err) {
        QSSO_FUZZ_CHECK(strstr(err, "fuzz-metadata.xml") != NULL,
                        "refusal does not name the file: %s", err);
    }
    else {
        QSSO_FUZZ_CHECK(idp && idp->entity_id && *idp->entity_id
                            && idp->certs_der && idp->certs_der->nelts > 0
                            && (idp->sso_redirect_url || idp->sso_post_url)
                            && idp->file
                            && !strcmp(idp->file, "fuzz-metadata.xml"),
                        "accepted metadata lacks entity ID, certificate or "
                        "SSO endpoint");
        /* The keys must build, or be refused with a message; a key that
         * xmlsec cannot read is not a crash. */
        (void)qsso_keys_prepare_idp(p, idp);
    }
    apr_pool_destroy(p);
    return 0;
}
