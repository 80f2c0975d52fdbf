#!/usr/bin/python3
"""JSON checks for the service tests.
  jcheck.py schema NAME FILE    validate FILE against api/openapi.yaml's
                                components.schemas.NAME (JSON Schema 2020-12)
  jcheck.py same A B            A and B are the same report apart from timing_ms
  jcheck.py get FILE KEY        print FILE's top-level KEY
  jcheck.py openapi OAS.json    api/openapi.yaml is a valid OpenAPI 3.1
                                document (OAS.json: the official schema)
Exit 0 when the check holds.  SPDX-License-Identifier: MIT"""
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SPEC = os.path.join(HERE, "..", "..", "api", "openapi.yaml")


def load(path):
    with open(path, "rb") as f:
        return json.loads(f.read())


def schema(name, path):
    import jsonschema
    import yaml
    with open(SPEC) as f:
        doc = yaml.safe_load(f)
    validator = jsonschema.Draft202012Validator(
        doc["components"]["schemas"][name],
        resolver=jsonschema.RefResolver("", doc))
    errors = list(validator.iter_errors(load(path)))
    for e in errors[:5]:
        print("schema %s: %s at %s" % (name, e.message, list(e.path)))
    return not errors


def same(a, b):
    ja, jb = load(a), load(b)
    for j in (ja, jb):
        if isinstance(j, dict):
            j.pop("timing_ms", None)
    if ja != jb:
        print("reports differ:\n%s\n%s" % (json.dumps(ja)[:400],
                                           json.dumps(jb)[:400]))
    return ja == jb


def openapi(oas_schema):
    import jsonschema
    import yaml
    with open(SPEC) as f:
        doc = yaml.safe_load(f)
    errors = list(jsonschema.Draft202012Validator(load(oas_schema))
                  .iter_errors(doc))
    for e in errors[:5]:
        print("openapi: %s at %s" % (e.message[:300], list(e.path)))
    return not errors and doc.get("openapi", "").startswith("3.1")


def main():
    cmd = sys.argv[1]
    if cmd == "schema":
        ok = schema(sys.argv[2], sys.argv[3])
    elif cmd == "same":
        ok = same(sys.argv[2], sys.argv[3])
    elif cmd == "openapi":
        ok = openapi(sys.argv[2])
    elif cmd == "get":
        v = load(sys.argv[2]).get(sys.argv[3])
        print(v if isinstance(v, str) else json.dumps(v))
        ok = True
    else:
        ok = False
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
