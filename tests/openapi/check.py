#!/usr/bin/python3
"""check.py SPEC LOG... — checks recorded API answers against docs/openapi.yaml.

Each LOG is JSON lines written by tests/system/lib.sh's `api`:
  {"method", "path" (with query), "status", "content_type", "body", "request"}
An answer passes when the spec has its route (or it is a 404/405 error for a
route or method the spec does not have), documents its status for that
method, its content type is one the spec lists for that status, and a JSON
body validates against the schema there. A 2xx answer to a request whose
body or query the spec does not allow means the server accepts more than the
spec says: that fails too. Exit 0 when every answer passes, 1 with one line
per failure otherwise, 2 on bad usage.

Debian packages only: python3-yaml, python3-jsonschema (draft 2020-12, as
OpenAPI 3.1 uses). $refs are resolved by inlining (the spec's schemas are
not recursive).
"""
import json
import re
import sys
import urllib.parse

import jsonschema
import yaml


def resolve(node, spec, depth=0):
    if depth > 50:
        raise ValueError("$ref nesting too deep (recursive schema?)")
    if isinstance(node, dict):
        if "$ref" in node:
            ref = node["$ref"]
            if not ref.startswith("#/"):
                raise ValueError("only local $refs are supported: " + ref)
            target = spec
            for part in ref[2:].split("/"):
                target = target[part]
            merged = dict(resolve(target, spec, depth + 1))
            merged.update({k: resolve(v, spec, depth + 1)
                           for k, v in node.items() if k != "$ref"})
            return merged
        return {k: resolve(v, spec, depth + 1) for k, v in node.items()}
    if isinstance(node, list):
        return [resolve(v, spec, depth + 1) for v in node]
    return node


def route_regex(template):
    parts = []
    for seg in template.strip("/").split("/"):
        if seg.startswith("{") and seg.endswith("}"):
            parts.append("[^/]+")
        else:
            parts.append(re.escape(seg))
    return re.compile("^/" + "/".join(parts) + "$")


class Spec:
    def __init__(self, path):
        with open(path, encoding="utf-8") as f:
            raw = yaml.safe_load(f)
        if not str(raw.get("openapi", "")).startswith("3.1"):
            raise ValueError(f"{path}: not an OpenAPI 3.1 document")
        self.doc = resolve(raw, raw)
        # literal routes before templated ones: /vm/run before /vm/{id}
        self.routes = sorted(
            ((t, route_regex(t), item) for t, item in self.doc["paths"].items()),
            key=lambda r: r[0].count("{"))
        self.validator = jsonschema.Draft202012Validator

    def route(self, path):
        for template, rx, item in self.routes:
            if rx.match(path):
                return template, item
        return None, None


def is_error_body(spec, rec):
    schema = spec.doc["components"]["schemas"]["Error"]
    try:
        body = json.loads(rec.get("body") or "")
    except ValueError:
        return False
    return not list(spec.validator(schema).iter_errors(body))


def errors_of(validator_cls, schema, value):
    v = validator_cls(schema)
    return ["%s at %s" % (e.message, "/".join(str(p) for p in e.absolute_path) or "(root)")
            for e in sorted(v.iter_errors(value), key=lambda e: list(e.absolute_path))]


def check(spec, rec):
    method = rec["method"].lower()
    url = urllib.parse.urlsplit(rec["path"])
    status = str(rec["status"])
    ctype = (rec.get("content_type") or "").split(";")[0].strip().lower()
    template, item = spec.route(url.path)
    where = f"{rec['method']} {rec['path']} → {status}"
    if item is None:
        if status == "404" and is_error_body(spec, rec):
            return []
        return [f"{where}: no route {url.path} in the spec"]
    op = item.get(method)
    if op is None:
        if status in ("404", "405") and is_error_body(spec, rec):
            return []
        return [f"{where}: the spec has no {rec['method']} for {template}"]
    responses = op.get("responses", {})
    resp = responses.get(status) or responses.get(status[0] + "XX") or responses.get("default")
    if resp is None:
        return [f"{where}: status {status} is not documented for {rec['method']} {template}"]
    out = []
    content = resp.get("content") or {}
    body = rec.get("body") or ""
    if not content:
        if body:
            out.append(f"{where}: the spec documents no body, the answer has one")
        return out
    if ctype not in content:
        out.append(f"{where}: content type {ctype or '(none)'} is not one of {sorted(content)}")
        return out
    schema = content[ctype].get("schema")
    if schema is not None and ctype == "application/json":
        try:
            value = json.loads(body)
        except ValueError as e:
            return [f"{where}: the body is not JSON ({e})"]
        out += [f"{where}: {m}" for m in errors_of(spec.validator, schema, value)]
    if status.startswith("2"):
        out += check_request(spec, op, item, rec, where)
    return out


def check_request(spec, op, item, rec, where):
    """A 2xx answer: the request must be one the spec allows."""
    out = []
    params = [p for p in item.get("parameters", []) + op.get("parameters", [])
              if p.get("in") == "query"]
    known = {p["name"]: p for p in params}
    query = urllib.parse.parse_qsl(urllib.parse.urlsplit(rec["path"]).query,
                                   keep_blank_values=True)
    for k, v in query:
        p = known.get(k)
        if p is None:
            out.append(f"{where}: query parameter {k} is not in the spec")
            continue
        schema = p.get("schema", {})
        value = v
        if schema.get("type") == "integer":
            try:
                value = int(v)
            except ValueError:
                out.append(f"{where}: query {k}={v} answered 2xx, spec says integer")
                continue
        out += [f"{where}: query {k}: {m}" for m in errors_of(spec.validator, schema, value)]
    rb = op.get("requestBody")
    req = rec.get("request") or ""
    if rb and req:
        schema = (rb.get("content", {}).get("application/json") or {}).get("schema")
        try:
            value = json.loads(req)
        except ValueError:
            return out + [f"{where}: a request body that is not JSON was answered 2xx"]
        if schema is not None:
            out += [f"{where}: request body: {m}"
                    for m in errors_of(spec.validator, schema, value)]
    return out


def main(argv):
    if len(argv) < 3:
        print("usage: check.py SPEC LOG...", file=sys.stderr)
        return 2
    spec = Spec(argv[1])
    failures, n = [], 0
    for log in argv[2:]:
        with open(log, encoding="utf-8") as f:
            for lineno, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    rec = json.loads(line)
                except ValueError as e:
                    failures.append(f"{log}:{lineno}: not a JSON record ({e})")
                    continue
                n += 1
                failures += [f"{log}:{lineno}: {m}" for m in check(spec, rec)]
    for m in failures:
        print(m)
    print(f"openapi: {n} answers checked, {len(failures)} not as the spec says",
          file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
