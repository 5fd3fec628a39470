"""Checks real responses of a Tessera server against its OpenAPI document, independently of
Tessera's code: each body must validate (jsonschema, JSON Schema 2020-12, the dialect of
OpenAPI 3.1) against the schema documented for its path, method and status, and carry no field
the schema does not name. Arguments: the document and a JSON list of samples
{method, path, status, body}. Prints one line per mismatch; exits 1 if there is any."""

import json
import sys

from jsonschema import Draft202012Validator

document = json.load(open(sys.argv[1]))
samples = json.load(open(sys.argv[2]))


def resolve(node):
    """Follows local `$ref`s (`#/components/...`) to the node they name."""
    while isinstance(node, dict) and "$ref" in node:
        target = document
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def named_fields(schema):
    """The properties a schema names, through `allOf`, `oneOf` and `anyOf`: name → schemas."""
    schema = resolve(schema)
    fields = {}
    for name, field in schema.get("properties", {}).items():
        fields.setdefault(name, []).append(field)
    for combinator in ("allOf", "oneOf", "anyOf"):
        for member in schema.get(combinator, []):
            for name, found in named_fields(member).items():
                fields.setdefault(name, []).extend(found)
    return fields


def undocumented(schema, instance, where):
    """Fields of `instance` (recursively) that `schema` does not name."""
    schema = resolve(schema)
    if isinstance(instance, dict):
        fields = named_fields(schema)
        for name, value in instance.items():
            if name not in fields:
                yield f"{where}.{name}"
            else:
                for field in fields[name]:
                    yield from undocumented(field, value, f"{where}.{name}")
    elif isinstance(instance, list) and "items" in schema:
        for index, item in enumerate(instance):
            yield from undocumented(schema["items"], item, f"{where}[{index}]")


failures = []
for sample in samples:
    label = f"{sample['method'].upper()} {sample['path']} {sample['status']}"
    operation = document["paths"][sample["path"]].get(sample["method"])
    response = resolve((operation or {}).get("responses", {}).get(str(sample["status"])))
    if response is None:
        failures.append(f"{label}: status not documented")
        continue
    media = response.get("content", {}).get("application/json")
    if media is None:
        failures.append(f"{label}: no application/json body documented")
        continue
    # The schema inside the document, so that its `#/components/...` references resolve.
    schema = {"components": document["components"], **resolve(media["schema"])}
    for error in Draft202012Validator(schema).iter_errors(sample["body"]):
        failures.append(f"{label}: {error.json_path}: {error.message}")
    for field in undocumented(media["schema"], sample["body"], "$"):
        failures.append(f"{label}: {field} is not documented")

for failure in failures:
    print(failure)
print(f"{len(samples)} responses checked, {len(failures)} mismatches")
sys.exit(1 if failures else 0)
