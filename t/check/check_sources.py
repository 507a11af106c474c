#!/usr/bin/python3
"""Static checks that keep code and docs in step (STYLE.md section 7):
- every log tag QSSO_LOGNO(n) is used at exactly one call site;
- every refusal code in the qsso_errors.c table and every tag has a section
  in docs/errors.md, and every section there names a code that exists;
- every directive in the command table is in docs/directives.md, and its
  help string is the first sentence of the Description there;
- every field of qsso_dir_conf_t is merged, and every int field starts as
  QSSO_UNSET in create (so "was it set" never compares with a default);
- modules/sources.mk lists exactly the module files that need no request_rec
  and call no ap_* function (the one list the module, t/unit, t/fuzz and
  qssoctl share).
Prints one line per problem and exits 1 if any."""
import glob
import os
import re
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
problems = []


def read(path):
    with open(os.path.join(ROOT, path), encoding="utf-8") as f:
        return f.read()


def sources():
    files = ["mod_qsso.c"] + sorted(
        os.path.relpath(p, ROOT) for p in glob.glob(os.path.join(ROOT, "modules", "*.c")))
    return {f: read(f) for f in files}


def check_tags(src, docs):
    seen = {}
    for f, text in src.items():
        for m in re.finditer(r"QSSO_LOGNO\((\d+)\)", text):
            if "#define QSSO_LOGNO" in text[max(0, m.start() - 20):m.start()]:
                continue
            seen.setdefault(m.group(1), []).append(f)
    for tag, where in sorted(seen.items()):
        if len(where) > 1:
            problems.append("tag QSSO%s is used %d times (%s)" % (tag, len(where), ", ".join(where)))
    table = read("modules/qsso_errors.c")
    block = table[table.index("qsso_err_table[] = {"):table.index("};", table.index("qsso_err_table[] = {"))]
    codes = set(re.findall(r"\{(\d{4}),", block))
    for c in codes & set(seen):
        problems.append("QSSO%s is both a refusal code and a log tag" % c)
    documented = set(re.findall(r"^### QSSO(\d{4})$", docs, re.M))
    for c in sorted(codes | set(seen)):
        if c not in documented:
            problems.append("QSSO%s has no section in docs/errors.md" % c)
    for c in sorted(documented - codes - set(seen)):
        problems.append("docs/errors.md documents QSSO%s, which the code never uses" % c)
    return len(codes), len(seen)


def c_string_concat(s):
    return "".join(re.findall(r'"((?:[^"\\]|\\.)*)"', s))


def check_directives(docs):
    text = read("modules/qsso_config.c")
    table = text[text.index("const command_rec qsso_config_cmds[] = {"):]
    table = table[:table.index("{NULL}")]
    entries = re.split(r"\n    (?=AP_INIT_|QSSO_DIR_)", table)[1:]
    names = []
    for e in entries:
        strings = re.findall(r'"((?:[^"\\]|\\.)*)"', e)
        name = strings[0]
        help_text = c_string_concat(e[e.index('"', e.index(name) + len(name) + 1):])
        names.append(name)
        m = re.search(r"^## %s\n- \*\*Description:\*\* (.*)$" % re.escape(name), docs, re.M)
        if not m:
            problems.append("directive %s is not documented in docs/directives.md" % name)
        elif m.group(1).strip() != help_text.strip():
            problems.append("directive %s: help string %r differs from docs Description %r"
                            % (name, help_text, m.group(1)))
    for d in re.findall(r"^## (QSSO\w+)$", docs, re.M):
        if d not in names:
            problems.append("docs/directives.md documents %s, which the module does not have" % d)
    return len(names)


def check_merge():
    header = read("modules/qsso.h")
    body = header[header.index("/* Per-directory configuration"):]
    body = body[body.index("{") + 1:body.index("} qsso_dir_conf_t;")]
    fields = re.findall(r"^\s+(?:const\s+)?(\w+)\s*(\*?)\s*(\w+);", body, re.M)
    conf = read("modules/qsso_config.c")
    merge = conf[conf.index("void *qsso_config_merge_dir("):conf.index("void *qsso_config_create_srv(")]
    create = conf[conf.index("void *qsso_config_create_dir("):conf.index("void *qsso_config_merge_dir(")]
    for ctype, star, name in fields:
        if not re.search(r"n->%s =\s" % name, merge):
            problems.append("qsso_dir_conf_t.%s is not merged in qsso_config_merge_dir" % name)
        if ctype == "int" and not star and not re.search(r"c->%s = QSSO_UNSET;" % name, create):
            problems.append("qsso_dir_conf_t.%s does not start as QSSO_UNSET" % name)
    return len(fields)


def check_request_free(src):
    text = read("modules/sources.mk")
    body = text[text.index("QSSO_REQUEST_FREE :="):]
    listed = set(re.findall(r"\b(qsso_\w+)\b", body))
    free = set()
    for f, code in src.items():
        if not f.startswith("modules/"):
            continue
        name = os.path.basename(f)[:-2]
        if not re.search(r"\brequest_rec\b", code) and \
                not re.search(r"\bap_[a-z_]+\s*\(", code):
            free.add(name)
    for name in sorted(listed - free):
        if "modules/%s.c" % name not in src:
            problems.append("modules/sources.mk lists %s, which does not exist" % name)
        else:
            problems.append("modules/sources.mk lists %s, which uses request_rec or "
                            "calls an ap_* function" % name)
    for name in sorted(free - listed):
        problems.append("modules/%s.c needs no request_rec and no ap_* function: "
                        "list it in modules/sources.mk" % name)
    return len(listed)


def main():
    src = sources()
    errors_md = read("docs/errors.md")
    directives_md = read("docs/directives.md")
    ncodes, ntags = check_tags(src, errors_md)
    ndirs = check_directives(directives_md)
    nfields = check_merge()
    nfree = check_request_free(src)
    for p in problems:
        print("check_sources: " + p)
    print("check_sources: %d refusal codes, %d log tags, %d directives, %d config fields, "
          "%d request-free files" % (ncodes, ntags, ndirs, nfields, nfree))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
