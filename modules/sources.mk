# The module's files that need no request_rec and call no ap_* function:
# the module links them with the rest, and t/unit, t/fuzz and qssoctl link
# them alone, so what they do is tested and reused without httpd.
# t/check/check_sources.py keeps this list exact: every file in it is free
# of request_rec and ap_* calls, and every such file of modules/ is in it.
QSSO_REQUEST_FREE := qsso_algs qsso_cache qsso_claims qsso_codec qsso_cookie \
    qsso_decrypt qsso_defaults qsso_errors qsso_keys qsso_keyset \
    qsso_metadata qsso_pending qsso_policy qsso_request qsso_response \
    qsso_scim_filter qsso_scim_groups qsso_scim_members qsso_scim_resource \
    qsso_scim_schema qsso_scim_token qsso_scim_users qsso_store \
    qsso_store_redis qsso_users qsso_xml
