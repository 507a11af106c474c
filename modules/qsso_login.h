/* The SP's HTTP side: starting a login, and the acs, metadata, login and
 * logout endpoints. */
#ifndef QSSO_LOGIN_H
#define QSSO_LOGIN_H

#include "qsso.h"

/* Sends the browser to the IdP (302 or an auto-submitting form, DONE), or
 * answers 401 to script and non-GET requests when `protect` is set. */
int qsso_login_start(request_rec *r, const qsso_dir_conf_t *c,
                     const char *return_to, int protect);

int qsso_login_handle_acs(request_rec *r, const qsso_dir_conf_t *c);
int qsso_login_handle_metadata(request_rec *r, const qsso_dir_conf_t *c);
int qsso_login_handle_login(request_rec *r, const qsso_dir_conf_t *c);
int qsso_login_handle_logout(request_rec *r, const qsso_dir_conf_t *c);

#endif
