#!/bin/bash
# Heroku packaging: app.json validates against Heroku's app.json schema (the
# copy in test/fixtures/schemas), declares every environment variable the code
# reads, the add-ons and buildpacks; the Procfile has the release phase.
. "$(dirname "$0")/lib.sh"
plan 15

cd "$T_ROOT" || exit 1
SCHEMA=test/fixtures/schemas/app-json.schema.json

# Draft-07 validation; FormatChecker makes "format": "uri" count where the
# installed jsonschema can check it.
out=$(python3 - "$SCHEMA" app.json <<'PY' 2>&1
import json, sys
import jsonschema
schema = json.load(open(sys.argv[1]))
doc = json.load(open(sys.argv[2]))
jsonschema.Draft7Validator.check_schema(schema)
errors = sorted(jsonschema.Draft7Validator(schema, format_checker=jsonschema.FormatChecker())
                .iter_errors(doc), key=lambda e: list(e.path))
for e in errors:
    print("/".join(map(str, e.path)) or "(root)", ":", e.message)
print("errors:", len(errors))
PY
)
like "$out" "^errors: 0$" "app.json is valid against Heroku's app.json schema"

# The schema must reject what Heroku rejects, or the check above proves nothing.
bad=$(python3 - "$SCHEMA" <<'PY' 2>&1
import json, sys
import jsonschema
schema = json.load(open(sys.argv[1]))
for doc in ({"env": {"X": {"secret": True}}},
            {"env": {"X": {"required": "yes"}}},
            {"formation": {"clock": {"size": "eco"}}},
            {"addons": [{"as": "DB"}]},
            {"buildpacks": ["heroku-community/apt"]},
            {"procfile": "web: x"}):
    try:
        jsonschema.validate(doc, schema)
        print("accepted", json.dumps(doc))
    except jsonschema.ValidationError:
        pass
print("done")
PY
)
is "$bad" "done" "the schema rejects malformed manifests"

manifest() { # manifest <python expression on d>: evaluated against app.json
	python3 -c "import json; d=json.load(open('app.json')); print($1)"
}

# Every variable the code reads: config_get*/config_require*("NAME") and
# getenv("NAME") in lib/, cmd/, jobs/. DYNO is set by the Heroku runtime
# itself, JOBRUN_ENTRY and JOBRUN_SLOT by the clock for its children: none is
# a config var.
code_vars=$(grep -rhoE '(config_(get|require)[a-z_]*|getenv)\("[A-Z][A-Z0-9_]*"' lib cmd jobs 2>/dev/null |
	sed -E 's/.*\("//; s/"$//' | grep -vxE 'DYNO|JOBRUN_ENTRY|JOBRUN_SLOT' | sort -u)
check "the code reads environment variables (grep found some)" test -n "$code_vars"
like "$code_vars" "DATABASE_URL" "the grep finds DATABASE_URL"
app_vars=$(manifest "'\n'.join(sorted(d.get('env', {})))")
missing=$(comm -23 <(printf '%s\n' "$code_vars") <(printf '%s\n' "$app_vars") | tr '\n' ' ')
is "$missing" "" "app.json env lists every variable the code reads"

# Every env entry: a description and an explicit required (Heroku treats an
# entry without one as required). Only COMICVINE_API_KEY is: DATABASE_URL
# comes from the heroku-postgresql add-on, and a required entry would make
# setup ask the user for it.
undocumented=$(manifest "' '.join(k for k, v in sorted(d['env'].items()) if not isinstance(v, dict) or not v.get('description') or 'required' not in v)")
is "$undocumented" "" "every env entry has a description and required"
required=$(manifest "' '.join(k for k, v in sorted(d['env'].items()) if v.get('required'))")
is "$required" "COMICVINE_API_KEY" "only COMICVINE_API_KEY is required"
secrets_with_value=$(manifest "' '.join(k for k in ('DATABASE_URL', 'COMICVINE_API_KEY') if 'value' in d['env'][k])")
is "$secrets_with_value" "" "secrets carry no default value"

addons=$(manifest "' '.join(sorted(a if isinstance(a, str) else a['plan'] for a in d['addons']))")
like " $addons " " heroku-postgresql(:[a-z0-9-]+)? " "heroku-postgresql add-on"
like " $addons " " scheduler:standard " "scheduler:standard add-on"

buildpacks=$(manifest "' '.join(b['url'] for b in d['buildpacks'])")
like "$buildpacks" "^heroku-community/apt .*heroku-buildpack-c" \
	"apt buildpack first, then the make-based C buildpack"
check "Aptfile installs jansson's headers" grep -qx 'libjansson-dev' Aptfile

check "Procfile runs migrate in the release phase" grep -qx 'release: jobrun migrate' Procfile
clock=$(manifest "d.get('formation', {}).get('clock', {}).get('quantity')")
check "Procfile declares the clock process" grep -qE '^clock: jobrun clock( |$)' Procfile
is "$clock" "0" "the clock process is scaled to 0 until it is wanted"

done_testing
