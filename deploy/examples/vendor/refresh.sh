#!/usr/bin/env bash
# Refreshes what deploy/checks/examples.py validates the examples against (see README.md here):
#   NATS_GIT=<git dir of github.com/nats-io/k8s>  CNPG_GIT=<git dir of github.com/cloudnative-pg/cloudnative-pg> \
#   deploy/examples/vendor/refresh.sh [NATS_TAG] [CNPG_TAG]
# Each git dir is a clone (or a bare mirror) holding the tags. It writes the NATS chart as
# its package ships it (helm/charts/nats less test/, which its .helmignore leaves out) and the
# CloudNativePG Cluster CRD's v1 openAPIV3Schema as JSON (status and descriptions dropped:
# neither is needed to validate a manifest). Then update the versions in README.md.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
nats_tag=${1:-nats-2.14.2}
cnpg_tag=${2:-v1.30.0}
: "${NATS_GIT:?the git dir of nats-io/k8s}" "${CNPG_GIT:?the git dir of cloudnative-pg/cloudnative-pg}"

rm -rf "$here/nats"
mkdir -p "$here/nats"
git --git-dir="$NATS_GIT" archive "$nats_tag" helm/charts/nats ':!helm/charts/nats/test' \
  | tar -x -C "$here/nats" --strip-components=3
git --git-dir="$NATS_GIT" show "$nats_tag:LICENSE" > "$here/nats/LICENSE"
echo "nats: $nats_tag $(git --git-dir="$NATS_GIT" rev-list -n1 "$nats_tag")"

mkdir -p "$here/cloudnative-pg"
git --git-dir="$CNPG_GIT" show "$cnpg_tag:LICENSE" > "$here/cloudnative-pg/LICENSE"
git --git-dir="$CNPG_GIT" show "$cnpg_tag:config/crd/bases/postgresql.cnpg.io_clusters.yaml" \
  | python3 -c '
import json, sys, yaml
crd = yaml.safe_load(sys.stdin)
[v1] = [v for v in crd["spec"]["versions"] if v["name"] == "v1"]
schema = v1["schema"]["openAPIV3Schema"]
schema["properties"].pop("status", None)

def strip(node, in_properties=False):
    """Drop every schema'"'"'s description (not a property that happens to be called so)."""
    if isinstance(node, dict):
        return {k: strip(v, k == "properties" and not in_properties) for k, v in node.items()
                if in_properties or k != "description"}
    if isinstance(node, list):
        return [strip(v) for v in node]
    return node

json.dump({"group": crd["spec"]["group"], "kind": crd["spec"]["names"]["kind"], "version": "v1",
           "openAPIV3Schema": strip(schema)}, sys.stdout, indent=1, sort_keys=True)
print()
' > "$here/cloudnative-pg/cluster-v1.schema.json"
echo "cloudnative-pg: $cnpg_tag $(git --git-dir="$CNPG_GIT" rev-list -n1 "$cnpg_tag")"
