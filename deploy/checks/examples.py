#!/usr/bin/env python3
"""Proves deploy/examples/ offline: what an operator deploys next to our chart, and that the
pieces meet.

- the official NATS chart (vendored, deploy/examples/vendor/nats) rendered with
  deploy/examples/nats/values.yaml: every object valid for Kubernetes (kubernetes-validate
  --strict), a 3-server cluster with JetStream on a PVC per server, TLS for clients from the
  Secret cert-manager makes (nats/certificate.yaml), an account with JetStream and one valid
  user NKey per service; and, where a nats-server binary is at hand, `nats-server -t` on the
  rendered nats.conf;
- the CloudNativePG Clusters (cloudnativepg/cluster.yaml, cluster-superuser.yaml) against the
  vendored Cluster CRD's v1 schema (jsonschema; unknown fields refused as the API server
  does), and the plain Secrets with kubernetes-validate;
- the Cluster's postInitApplicationSQL is deploy/db/roles.sql + deploy/db/schemas.sql
  statement for statement (less the advisory lock, roles NOLOGIN until managed.roles gives
  them LOGIN and a password), its managed roles are those roles, each with a basic-auth
  Secret (username = the role) present, the same, in `database` and `pizza`;
- our chart (helm/pizza) rendered with helm/pizza/values-prod.yaml and
  deploy/examples/pizza-values.yaml (and pizza-values-superuser.yaml): valid for
  Kubernetes, and consistent with the two: every NetworkPolicy egress peer on the NATS port
  selects the NATS StatefulSet's pods (the labels the official chart renders) in `messaging`
  and only those, every peer on the PostgreSQL port the Cluster's instance pods in `database`;
  each service's pods may reach both; NATS_URL resolves to the NATS chart's client Service,
  DB_HOST to the Cluster's read-write Service (a name its server certificate holds, for
  verify-full); the database logins come from the Secrets the Cluster's managed roles read,
  each service its own; the CA files, the NKey seed (each pod its own key only) from the
  Secrets the values name; TLS on both sides;
- and a self-test: broken examples (a wrong pod label, a missing role, TLS off, …) must be
  caught.

Usage: examples.py [--skip-chart]   (--skip-chart: leave out our chart's render)
"""

import copy
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
EX = ROOT / "deploy" / "examples"
VENDOR = EX / "vendor"
CHART = ROOT / "helm" / "pizza"
K8S_VERSION = "1.31.0"
SERVICES = ("login", "menu", "order", "payment")
ROLES = {s: f"{s}_svc" for s in SERVICES}
PIZZA = ("pizza", "pizza")  # release, namespace
NATS = ("nats", "messaging")
DB_NS = "database"
CRD_KINDS = {"ServiceMonitor", "PrometheusRule"}
# The labels CloudNativePG puts on an instance's pod (v1.30.0 pkg/specs/pods.go, and
# cnpg.io/instanceRole + the deprecated role as the operator sets them), besides
# spec.inheritedMetadata.labels.
CNPG_POD_LABELS = {"cnpg.io/podRole": "instance", "app.kubernetes.io/name": "postgresql",
                   "app.kubernetes.io/component": "database", "app.kubernetes.io/managed-by": "cloudnative-pg"}

sys.path.insert(0, str(EX / "nats"))
import nkeys  # noqa: E402  (deploy/examples/nats/nkeys.py)

failures: list[str] = []
quiet = False


def fail(msg: str) -> None:
    failures.append(msg)
    if not quiet:
        print(f"  FAIL {msg}")


def ok(msg: str) -> None:
    if not quiet:
        print(f"  ok   {msg}")


def load_docs(path: Path) -> list[dict]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def merged(base: dict, extra: dict) -> dict:
    out = dict(base)
    for k, v in extra.items():
        out[k] = merged(out.get(k) or {}, v) if isinstance(v, dict) else v
    return out


def dig(d, *keys, default=None):
    for k in keys:
        if not isinstance(d, dict) or k not in d:
            return default
        d = d[k]
    return d


def by_kind(docs: list[dict], kind: str) -> list[dict]:
    return [d for d in docs if d.get("kind") == kind]


def render(chart: Path, values: dict, release: tuple[str, str]) -> list[dict]:
    """Helm's own render (Go SDK through helm-python-sdk), each object given the release's
    namespace where the chart leaves it to `helm install -n`."""
    import helm_python

    out = helm_python.Chart.load(str(chart)).render(values, name=release[0], namespace=release[1], is_install=True)
    docs = []
    for path, text in sorted(out.items()):
        if path.endswith("NOTES.txt") or "/tests/" in path:
            continue
        for d in yaml.safe_load_all(text):
            if d:
                d.setdefault("metadata", {}).setdefault("namespace", release[1])
                docs.append(d)
    return docs


def values_file(path: Path) -> dict:
    import helm_python

    return helm_python.values_from_yaml(path.read_text())


# --------------------------------------------------------------------------------------
# Validation


def kube_validate(label: str, docs: list[dict]) -> None:
    plain = [d for d in docs if d.get("kind") not in CRD_KINDS]
    with tempfile.TemporaryDirectory() as tmp:
        f = Path(tmp) / "all.yaml"
        f.write_text(yaml.safe_dump_all(plain))
        r = subprocess.run(["kubernetes-validate", "-k", K8S_VERSION, "--strict", "--quiet", str(f)],
                           capture_output=True, text=True)
    if r.returncode != 0:
        fail(f"{label}: kubernetes-validate\n{r.stdout}{r.stderr}")
    else:
        ok(f"{label}: {len(plain)} objects valid for Kubernetes {K8S_VERSION} (strict)")


def strict_schema(node):
    """The CRD's schema as the API server applies it to a manifest: a field the schema does not
    know is refused (strict field validation), unless it preserves unknown fields."""
    if isinstance(node, dict):
        node = {k: (v if k == "enum" or k == "default" else strict_schema(v)) for k, v in node.items()}
        if ("properties" in node and "additionalProperties" not in node
                and not node.get("x-kubernetes-preserve-unknown-fields")):
            node["additionalProperties"] = False
        return node
    if isinstance(node, list):
        return [strict_schema(v) for v in node]
    return node


def cnpg_schema():
    import jsonschema

    crd = json.loads((VENDOR / "cloudnative-pg" / "cluster-v1.schema.json").read_text())
    schema = strict_schema(crd["openAPIV3Schema"])
    # metadata is ObjectMeta, which the CRD leaves open; the parts a manifest sets.
    schema["properties"]["metadata"] = {
        "type": "object", "required": ["name"], "additionalProperties": False,
        "properties": {"name": {"type": "string", "pattern": r"^[a-z]([-a-z0-9]*[a-z0-9])?$", "maxLength": 50},
                       "namespace": {"type": "string"}, "labels": {"type": "object"},
                       "annotations": {"type": "object"}}}
    return crd, jsonschema.Draft7Validator(schema)


def cnpg_validate(label: str, docs: list[dict]) -> None:
    crd, validator = cnpg_schema()
    for d in docs:
        where = f"{label}: Cluster {dig(d, 'metadata', 'name')}"
        if d.get("apiVersion") != f"{crd['group']}/{crd['version']}":
            fail(f"{where}: apiVersion must be {crd['group']}/{crd['version']}, got {d.get('apiVersion')}")
            continue
        errors = sorted(validator.iter_errors(d), key=lambda e: list(e.absolute_path))
        for e in errors[:10]:
            fail(f"{where}: {'.'.join(str(p) for p in e.absolute_path) or '(top)'}: {e.message[:300]}")
        if not errors:
            ok(f"{where}: valid for the CloudNativePG Cluster CRD (v1, strict)")


# --------------------------------------------------------------------------------------
# Selectors and pods


def matches(selector: dict | None, labels: dict) -> bool:
    """A Kubernetes LabelSelector against a label set ({} selects everything)."""
    selector = selector or {}
    for k, v in (selector.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for e in selector.get("matchExpressions") or []:
        k, op, vals = e["key"], e["operator"], e.get("values") or []
        if op == "In" and labels.get(k) not in vals:
            return False
        if op == "NotIn" and k in labels and labels[k] in vals:
            return False
        if op == "Exists" and k not in labels:
            return False
        if op == "DoesNotExist" and k in labels:
            return False
    return True


def ns_labels(ns: str) -> dict:
    return {"kubernetes.io/metadata.name": ns}


def pod_templates(docs: list[dict]) -> list[tuple[dict, dict]]:
    """(workload, pod template) of every Deployment, StatefulSet, Job."""
    out = []
    for d in docs:
        if d.get("kind") in ("Deployment", "StatefulSet", "DaemonSet", "Job"):
            out.append((d, d["spec"]["template"]))
        elif d.get("kind") == "CronJob":
            out.append((d, d["spec"]["jobTemplate"]["spec"]["template"]))
    return out


def service_of(obj: dict) -> str | None:
    name = dig(obj, "metadata", "labels", "app.kubernetes.io/name", default="") or ""
    svc = name.removeprefix("pizza-")
    if svc in SERVICES:
        return svc
    m = re.fullmatch(r"pizza-(login|menu|order|payment)-migrate.*", dig(obj, "metadata", "name", default=""))
    return m.group(1) if m else None


def container_env(docs: list[dict], tmpl: dict, c: dict) -> dict:
    """name -> ("value", v) | ("secret", name, key) | ("other", …), envFrom ConfigMaps included."""
    cms = {d["metadata"]["name"]: d.get("data") or {} for d in by_kind(docs, "ConfigMap")}
    env = {}
    for ef in c.get("envFrom") or []:
        cm = dig(ef, "configMapRef", "name")
        for k, v in cms.get(cm, {}).items():
            env[k] = ("value", str(v))
    for e in c.get("env") or []:
        if "value" in e:
            env[e["name"]] = ("value", str(e["value"]))
        elif dig(e, "valueFrom", "secretKeyRef"):
            ref = e["valueFrom"]["secretKeyRef"]
            env[e["name"]] = ("secret", ref.get("name"), ref.get("key"))
        elif dig(e, "valueFrom", "configMapKeyRef"):
            ref = e["valueFrom"]["configMapKeyRef"]
            env[e["name"]] = ("value", str(cms.get(ref.get("name"), {}).get(ref.get("key"), "")))
        else:
            env[e["name"]] = ("other", e.get("valueFrom"))
    return env


def file_source(spec: dict, c: dict, path: str) -> tuple[str, str, list | None] | None:
    """Which Secret key a file of the container is: (secret, key, the volume's items) or None."""
    best = None
    for m in c.get("volumeMounts") or []:
        mp = m["mountPath"].rstrip("/")
        if path == mp or path.startswith(mp + "/"):
            if best is None or len(mp) > len(best["mountPath"].rstrip("/")):
                best = m
    if best is None:
        return None
    vols = {v["name"]: v for v in spec.get("volumes") or []}
    vol = vols.get(best["name"]) or {}
    rel = best.get("subPath") or path[len(best["mountPath"].rstrip("/")) + 1:]
    sources = []
    if "secret" in vol:
        sources = [vol["secret"]]
    elif "projected" in vol:
        sources = [s["secret"] for s in vol["projected"].get("sources") or [] if "secret" in s]
    for s in sources:
        items = s.get("items")
        if items is None:
            return s.get("secretName") or s.get("name"), rel, None
        for it in items:
            if it["path"] == rel:
                return s.get("secretName") or s.get("name"), it["key"], items
    return None


# --------------------------------------------------------------------------------------
# The NATS side


def nats_conf(docs: list[dict]) -> dict | None:
    """The rendered nats.conf as data (the chart writes JSON with a few bare values:
    $VARIABLES and sizes like 10Gi)."""
    for cm in by_kind(docs, "ConfigMap"):
        text = (cm.get("data") or {}).get("nats.conf")
        if text:
            text = re.sub(r'(:\s*)(\$[A-Za-z_][A-Za-z0-9_]*|[0-9]+(?:\.[0-9]+)?[A-Za-z]+)(\s*[,\n}])', r'\1"\2"\3', text)
            try:
                return json.loads(text)
            except json.JSONDecodeError as e:
                fail(f"nats: nats.conf does not parse: {e}")
                return None
    fail("nats: no ConfigMap with nats.conf")
    return None


def nats_statefulset(docs: list[dict]) -> dict | None:
    sts = [d for d in by_kind(docs, "StatefulSet") if matches({"matchLabels": {"app.kubernetes.io/component": "nats"}},
                                                                d["spec"]["template"]["metadata"].get("labels") or {})]
    return sts[0] if len(sts) == 1 else (by_kind(docs, "StatefulSet") or [None])[0]


def check_nats(label: str, docs: list[dict], values: dict, cert_docs: list[dict]) -> None:
    before = len(failures)
    conf = nats_conf(docs)
    sts = nats_statefulset(docs)
    if conf is None or sts is None:
        fail(f"{label}: no nats.conf or no StatefulSet rendered")
        return
    spec = sts["spec"]["template"]["spec"]
    natsc = [c for c in spec["containers"] if c["name"] == "nats"][0]
    # Cluster and JetStream: R=3 streams need 3 servers, each with its own disk.
    replicas = sts["spec"].get("replicas", 1)
    routes = dig(conf, "cluster", "routes", default=[]) or []
    if replicas < 3 or len(routes) != replicas:
        fail(f"{label}: 3 clustered servers are needed for R=3 streams: {replicas} replicas, {len(routes)} routes")
    js = conf.get("jetstream") or {}
    store = js.get("store_dir")
    claims = {t["metadata"]["name"] for t in sts["spec"].get("volumeClaimTemplates") or []}
    mounts = {m["mountPath"].rstrip("/"): m["name"] for m in natsc.get("volumeMounts") or []}
    if not store or mounts.get(store.rstrip("/")) not in claims:
        fail(f"{label}: JetStream's store_dir {store} must be a PVC of each server (volumeClaimTemplates {sorted(claims)})")
    if str(js.get("max_memory_store", "0")) not in ("0", ""):
        fail(f"{label}: JetStream must store on file (max_memory_store {js.get('max_memory_store')})")
    # TLS for clients, from the Secret the Certificate makes.
    tls = conf.get("tls") or {}
    secret_name = dig(values, "config", "nats", "tls", "secretName")
    for f in ("cert_file", "key_file"):
        src = file_source(spec, natsc, tls.get(f, "")) if tls.get(f) else None
        if not src or src[0] != secret_name:
            fail(f"{label}: the client port needs TLS: nats.conf tls.{f} from Secret {secret_name}, got {src}")
    certs = [c for c in by_kind(cert_docs, "Certificate") if dig(c, "spec", "secretName") == secret_name]
    if not certs:
        fail(f"{label}: no cert-manager Certificate in nats/certificate.yaml makes Secret {secret_name}")
    # Accounts: one with JetStream, one valid NKey user per service.
    accounts = conf.get("accounts") or {}
    js_accounts = {n: a for n, a in accounts.items() if str(a.get("jetstream")).lower() in ("enabled", "true", "enable")}
    if len(js_accounts) != 1:
        fail(f"{label}: expected one account with JetStream, got {sorted(js_accounts)}")
    for name, acc in js_accounts.items():
        keys = [u.get("nkey") for u in acc.get("users") or []]
        bad = [k for k in keys if not nkeys.is_user_public_key(k or "")]
        if bad or len(set(keys)) != len(SERVICES) or len(keys) != len(SERVICES):
            fail(f"{label}: account {name} needs {len(SERVICES)} distinct user NKeys (U…), got {keys} (invalid: {bad})")
    if conf.get("authorization") or conf.get("no_auth_user"):
        fail(f"{label}: no global authorization / no_auth_user: every client logs in to an account")
    # The client Service selects the StatefulSet's pods on the client port.
    tlabels = sts["spec"]["template"]["metadata"].get("labels") or {}
    port = conf.get("port", 4222)
    cports = {p["name"]: p["containerPort"] for p in natsc.get("ports") or []}
    svc = nats_client_service(docs)
    if not svc or not matches({"matchLabels": svc["spec"].get("selector") or {}}, tlabels) \
            or not any(p["port"] == port and cports.get(p.get("targetPort"), p.get("targetPort")) == port
                       for p in svc["spec"].get("ports") or []):
        fail(f"{label}: the client Service must select the StatefulSet's pods on port {port}")
    if len(failures) == before:
        ok(f"{label}: {replicas} clustered servers, JetStream on a PVC each, client TLS from {secret_name}, "
           f"account {', '.join(js_accounts)} with {len(SERVICES)} user NKeys")


def nats_client_service(docs: list[dict]) -> dict | None:
    svcs = [s for s in by_kind(docs, "Service") if s["spec"].get("clusterIP") != "None"]
    return svcs[0] if len(svcs) == 1 else None


def nats_server_test(docs: list[dict]) -> None:
    """nats-server's own parse of the rendered config (accounts, NKeys, TLS files), when one is
    installed (scripts/deps.sh installs it for the tests)."""
    server = shutil.which("nats-server") or ("/usr/sbin/nats-server" if os.access("/usr/sbin/nats-server", os.X_OK) else None)
    if not server or not shutil.which("openssl"):
        print("  skip nats-server -t: no nats-server or openssl here")
        return
    cm = [c for c in by_kind(docs, "ConfigMap") if "nats.conf" in (c.get("data") or {})]
    if not cm:
        return
    text = cm[0]["data"]["nats.conf"]
    version = subprocess.run([server, "--version"], capture_output=True, text=True).stdout.strip()
    with tempfile.TemporaryDirectory() as tmp:
        for path in sorted(set(re.findall(r'"(/etc/[^"]+\.(?:crt|key))"', text))):
            text = text.replace(path, f"{tmp}/{Path(path).name}")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                        "-nodes", "-keyout", f"{tmp}/tls.key", "-out", f"{tmp}/tls.crt", "-days", "1",
                        "-subj", "/CN=nats"], capture_output=True, check=True)
        (Path(tmp) / "nats.conf").write_text(text)
        r = subprocess.run([server, "-t", "-c", f"{tmp}/nats.conf"], capture_output=True, text=True,
                           env={"PATH": os.environ.get("PATH", ""), "SERVER_NAME": "nats-0", "POD_NAME": "nats-0"})
    if r.returncode != 0:
        fail(f"nats: nats-server -t refuses the rendered nats.conf ({version}): {r.stdout}{r.stderr}")
    else:
        ok(f"nats: {version} -t accepts the rendered nats.conf (accounts, NKeys, TLS files)")


# --------------------------------------------------------------------------------------
# The PostgreSQL side


def sql_statements(text: str) -> list[str]:
    """Statements of a SQL file: comments out, split on ; outside $$ bodies, blanks collapsed."""
    text = "\n".join(line.split("--", 1)[0] if "$$" not in line else line for line in text.splitlines())
    out, cur, in_body = [], [], False
    for part in re.split(r"(\$\$|;)", text):
        if part == "$$":
            in_body = not in_body
            cur.append(part)
        elif part == ";" and not in_body:
            out.append("".join(cur))
            cur = []
        else:
            cur.append(part)
    out.append("".join(cur))
    return [norm for s in out if (norm := " ".join(s.split()))]


def roles_in_sql(statements: list[str]) -> set[str]:
    names = set()
    for s in statements:
        for arr in re.findall(r"ARRAY\s*\[([^\]]*)\]", s):
            names |= set(re.findall(r"'([a-z_]+)'", arr))
        names |= set(re.findall(r"ALTER ROLE (\w+)", s))
    return names


def check_cluster(label: str, cluster: dict, secrets: list[dict]) -> dict[str, str]:
    """The CNPG Cluster of the managed-roles way; returns {role: passwordSecret name}."""
    before = len(failures)
    spec = cluster.get("spec") or {}
    initdb = dig(spec, "bootstrap", "initdb", default={}) or {}
    if spec.get("instances", 1) < 3:
        fail(f"{label}: 3 instances (a primary and two standbys), got {spec.get('instances')}")
    if spec.get("enableSuperuserAccess") is not False:
        fail(f"{label}: enableSuperuserAccess must be false in this way (no superuser login needed)")
    if initdb.get("database") != "pizza" or initdb.get("owner") != "pizza":
        fail(f"{label}: bootstrap.initdb must create database pizza owned by pizza, got {initdb.get('database')}/{initdb.get('owner')}")
    # postInitApplicationSQL = roles.sql + schemas.sql, but for the documented differences.
    want = []
    for f in ("roles.sql", "schemas.sql"):
        for s in sql_statements((ROOT / "deploy" / "db" / f).read_text()):
            if s.startswith("SELECT pg_advisory_xact_lock"):
                continue  # one bootstrap, nothing to take turns with
            want.append(s.replace("CREATE ROLE %I LOGIN ", "CREATE ROLE %I NOLOGIN "))
    got = [" ".join(s.split()).rstrip(";").rstrip() for s in initdb.get("postInitApplicationSQL") or []]
    if got != want:
        for i, (g, w) in enumerate(zip(got + [""] * len(want), want + [""] * len(got))):
            if g != w:
                fail(f"{label}: postInitApplicationSQL[{i}] must be deploy/db's statement\n      want: {w}\n      got:  {g}")
                break
    sql_roles = roles_in_sql(got)
    file_roles = roles_in_sql(sql_statements((ROOT / "deploy" / "db" / "roles.sql").read_text()))
    if sql_roles != file_roles or file_roles != set(ROLES.values()):
        fail(f"{label}: the roles of postInitApplicationSQL {sorted(sql_roles)} must be deploy/db/roles.sql's {sorted(file_roles)}")
    # managed.roles: the same roles, LOGIN, no privileges, a basic-auth Secret each.
    managed = {r["name"]: r for r in dig(spec, "managed", "roles", default=[]) or []}
    if set(managed) != file_roles:
        fail(f"{label}: managed.roles {sorted(managed)} must be the roles of deploy/db/roles.sql {sorted(file_roles)}")
    out = {}
    ns = dig(cluster, "metadata", "namespace")
    for name, r in managed.items():
        where = f"{label}: managed role {name}"
        if r.get("ensure", "present") != "present" or r.get("login") is not True:
            fail(f"{where}: must be present with login: true")
        for attr in ("superuser", "createdb", "createrole", "replication", "bypassrls"):
            if r.get(attr):
                fail(f"{where}: must not have {attr}")
        secret = dig(r, "passwordSecret", "name")
        if not secret:
            fail(f"{where}: needs a passwordSecret (its password)")
            continue
        out[name] = secret
        copies = {d["metadata"].get("namespace"): d for d in secrets if d["metadata"]["name"] == secret}
        db_copy = copies.get(ns)
        if db_copy is None:
            fail(f"{where}: Secret {secret} must exist in the Cluster's namespace {ns}")
            continue
        data = secret_data(db_copy)
        if db_copy.get("type") != "kubernetes.io/basic-auth" or data.get("username") != name or not data.get("password"):
            fail(f"{where}: Secret {ns}/{secret} must be kubernetes.io/basic-auth with username {name} and a password")
        other = copies.get(PIZZA[1])
        if other is None or secret_data(other) != data or other.get("type") != db_copy.get("type"):
            fail(f"{where}: Secret {secret} must exist in {PIZZA[1]} too, with the same content (our pods read it there)")
    if len(failures) == before:
        ok(f"{label}: postInitApplicationSQL is deploy/db's roles + schemas; managed roles "
           f"{', '.join(sorted(managed))} with their Secrets in {ns} and {PIZZA[1]}")
    return out


def secret_data(d: dict) -> dict:
    import base64

    out = {k: base64.b64decode(v).decode() for k, v in (d.get("data") or {}).items()}
    out.update({k: str(v) for k, v in (d.get("stringData") or {}).items()})
    return out


def cnpg_service_hosts(cluster: dict, kind: str = "rw") -> set[str]:
    """The names of the Cluster's <name>-<kind> Service, as its server certificate has them."""
    name, ns = cluster["metadata"]["name"], cluster["metadata"]["namespace"]
    svc = f"{name}-{kind}"
    return {svc, f"{svc}.{ns}", f"{svc}.{ns}.svc", f"{svc}.{ns}.svc.cluster.local"}


def cnpg_pods(cluster: dict) -> list[dict]:
    """The label sets of the Cluster's instance pods, as a primary and as a replica."""
    name = cluster["metadata"]["name"]
    base = {**(dig(cluster, "spec", "inheritedMetadata", "labels", default={}) or {}), **CNPG_POD_LABELS,
            "cnpg.io/cluster": name, "app.kubernetes.io/instance": name, "cnpg.io/instanceName": f"{name}-1"}
    return [{**base, "cnpg.io/instanceRole": r, "role": r} for r in ("primary", "replica")]


# --------------------------------------------------------------------------------------
# Our chart against both


def egress_rules(docs: list[dict], pod_labels: dict, ns: str) -> list[dict]:
    rules = []
    for np in by_kind(docs, "NetworkPolicy"):
        spec = np["spec"]
        if np["metadata"].get("namespace") != ns or "Egress" not in spec.get("policyTypes", ["Egress"] if "egress" in spec else []):
            continue
        if matches(spec.get("podSelector"), pod_labels):
            rules += spec.get("egress") or []
    return rules


def on_port(rule: dict, port: int) -> bool:
    ports = rule.get("ports")
    return not ports or any(p.get("port") == port and p.get("protocol", "TCP") == "TCP" for p in ports)


def check_egress_peers(label: str, docs: list[dict], port: int, what: str, targets: list[dict], target_ns: str,
                       others: list[dict]) -> None:
    """Every egress peer of every NetworkPolicy on `port`: pods (not a namespace, not addresses)
    selected by labels that every target pod has, in target_ns, and no other pod of theirs."""
    for np in by_kind(docs, "NetworkPolicy"):
        for rule in np["spec"].get("egress") or []:
            if not rule.get("ports") or not on_port(rule, port):
                continue
            for peer in rule.get("to") or [{}]:
                where = f"{label}: NetworkPolicy {np['metadata']['name']}: egress on {port}"
                pod_sel, ns_sel = peer.get("podSelector"), peer.get("namespaceSelector")
                if "ipBlock" in peer or not pod_sel or not (pod_sel.get("matchLabels") or pod_sel.get("matchExpressions")):
                    fail(f"{where} must name {what}'s pods by label, got {peer}")
                    continue
                peer_ns = np["metadata"].get("namespace")
                if ns_sel is not None and not matches(ns_sel, ns_labels(target_ns)):
                    fail(f"{where}: namespaceSelector {ns_sel} does not select namespace {target_ns}")
                elif ns_sel is None and peer_ns != target_ns:
                    fail(f"{where}: a podSelector alone selects pods of {peer_ns}, not of {target_ns}")
                missed = [t for t in targets if not matches(pod_sel, t)]
                if missed:
                    fail(f"{where}: podSelector {pod_sel} does not select {what}'s pods (labels {missed[0]})")
                extra = [o for o in others if matches(pod_sel, o)]
                if extra:
                    fail(f"{where}: podSelector {pod_sel} also selects other pods ({extra[0]})")


def reaches(docs: list[dict], pod_labels: dict, port: int, targets: list[dict], target_ns: str) -> bool:
    for rule in egress_rules(docs, pod_labels, PIZZA[1]):
        if on_port(rule, port):
            for peer in rule.get("to") or []:
                if "ipBlock" in peer:
                    continue
                ns_ok = matches(peer["namespaceSelector"], ns_labels(target_ns)) if "namespaceSelector" in peer \
                    else target_ns == PIZZA[1]
                if ns_ok and all(matches(peer.get("podSelector"), t) for t in targets):
                    return True
    return False


def resolve_service(host: str, docs: list[dict], ns: str) -> tuple[str, str] | None:
    """(service, namespace) a cluster DNS name names, when the Service is among docs."""
    parts = host.split(".")
    if len(parts) > 2 and parts[2:] not in (["svc"], ["svc", "cluster", "local"]):
        return None
    name, host_ns = parts[0], parts[1] if len(parts) > 1 else PIZZA[1]
    names = {s["metadata"]["name"] for s in by_kind(docs, "Service")}
    return (name, host_ns) if name in names and host_ns == ns else None


def check_chart(label: str, docs: list[dict], values: dict, nats_docs: list[dict], nats_values: dict,
                cluster: dict, role_secrets: dict[str, str], secrets: list[dict]) -> None:
    before = len(failures)
    pg, nats = values.get("postgres") or {}, values.get("nats") or {}
    sts = nats_statefulset(nats_docs)
    nats_pods = [sts["spec"]["template"]["metadata"].get("labels") or {}] if sts else []
    other_nats = [t["metadata"].get("labels") or {} for w, t in pod_templates(nats_docs) if w is not sts]
    db_pods = cnpg_pods(cluster)
    nats_port, pg_port = int(nats.get("port", 4222)), int(pg.get("port", 5432))
    check_egress_peers(label, docs, nats_port, "NATS", nats_pods, NATS[1], other_nats)
    check_egress_peers(label, docs, pg_port, "PostgreSQL", db_pods, DB_NS, [])
    conf = nats_conf(nats_docs) or {}
    server_tls = bool(conf.get("tls"))
    server_verify = bool(dig(conf, "tls", "verify"))
    by_secret = {(d["metadata"].get("namespace"), d["metadata"]["name"]): d for d in secrets}
    seen = set()
    for w, tmpl in pod_templates(docs):
        svc = service_of(w) or service_of(tmpl)
        spec = tmpl["spec"]
        for c in spec.get("containers") or []:
            env = container_env(docs, tmpl, c)
            where = f"{label}: {w['kind']} {w['metadata']['name']}"
            if svc is None or not ({"DB_HOST", "DATABASE_URL", "NATS_URL"} & set(env)):
                continue
            seen.add((w["kind"], svc))
            labels = tmpl["metadata"].get("labels") or {}
            # PostgreSQL: the Cluster's rw Service, TLS verified, the service's own login.
            host = env.get("DB_HOST", ("", ""))[1]
            if env.get("DB_HOST", ("value",))[0] == "value" and host not in cnpg_service_hosts(cluster):
                fail(f"{where}: DB_HOST {host!r} must be the Cluster's read-write Service "
                     f"({sorted(cnpg_service_hosts(cluster))}: names its server certificate holds)")
            if env.get("DB_SSLMODE", ("", ""))[1] != "verify-full":
                fail(f"{where}: DB_SSLMODE must be verify-full, got {env.get('DB_SSLMODE')}")
            ca = env.get("DB_SSLROOTCERT", ("", ""))[1]
            src = file_source(spec, c, ca) if ca else None
            want_ca = (dig(pg, "ca", "secretName"), dig(pg, "ca", "key", default="ca.crt"))
            if not src or src[:2] != want_ca:
                fail(f"{where}: DB_SSLROOTCERT {ca!r} must be Secret {want_ca[0]} key {want_ca[1]}, got {src}")
            cred = (pg.get("credentials") or {}).get(svc) or {}
            want_secret = role_secrets.get(ROLES[svc])
            if cred.get("existingSecret") != want_secret:
                fail(f"{where}: postgres.credentials.{svc}.existingSecret must be {want_secret} (the managed role "
                     f"{ROLES[svc]}'s passwordSecret), got {cred.get('existingSecret')}")
            for var, key in (("DB_USER", cred.get("usernameKey", "username")), ("DB_PASSWORD", cred.get("passwordKey", "password"))):
                e = env.get(var)
                if e is None and "DATABASE_URL" in env:
                    continue
                if var == "DB_USER" and e and e[0] == "value":
                    if e[1] != ROLES[svc]:
                        fail(f"{where}: DB_USER {e[1]} must be {ROLES[svc]}")
                    continue
                if not e or e[0] != "secret" or e[1] != want_secret or e[2] != key:
                    fail(f"{where}: {var} must come from Secret {want_secret} key {key} (the Cluster's), got {e}")
                elif key not in secret_data(by_secret.get((PIZZA[1], want_secret), {})):
                    fail(f"{where}: Secret {PIZZA[1]}/{want_secret} (cloudnativepg/secrets.yaml) has no key {key}")
            if not reaches(docs, labels, pg_port, db_pods, DB_NS):
                fail(f"{where}: no NetworkPolicy lets these pods reach the Cluster's pods on {pg_port}")
            if "NATS_URL" not in env or w["kind"] != "Deployment":
                continue
            # NATS: the chart's client Service, TLS, the service's own NKey seed.
            for url in env["NATS_URL"][1].split(","):
                m = re.fullmatch(r"(nats|tls)://([^:/]+)(?::(\d+))?", url.strip())
                if not m or not resolve_service(m.group(2), nats_docs, NATS[1]) or int(m.group(3) or 4222) != nats_port:
                    fail(f"{where}: NATS_URL {url!r} must be the NATS chart's Service in {NATS[1]} on {nats_port}")
            servers = int(dig(nats_values, "config", "cluster", "replicas", default=1))
            if env.get("NATS_STREAM_REPLICAS", ("", "1"))[1] != str(servers):
                fail(f"{where}: NATS_STREAM_REPLICAS must be {servers} (every stream on each of the NATS "
                     f"chart's servers), got {env.get('NATS_STREAM_REPLICAS')}")
            client_tls = env.get("NATS_TLS_REQUIRED", ("", ""))[1].lower() == "true" or "tls://" in env["NATS_URL"][1]
            if not (server_tls and client_tls):
                fail(f"{where}: NATS TLS on both sides: the server {'has' if server_tls else 'lacks'} it, "
                     f"the client {'requires' if client_tls else 'does not require'} it")
            ca = env.get("NATS_TLS_CA_FILE", ("", ""))[1]
            src = file_source(spec, c, ca) if ca else None
            want_ca = (dig(nats, "tls", "ca", "secretName"), dig(nats, "tls", "ca", "key", default="ca.crt"))
            if not src or src[:2] != want_ca:
                fail(f"{where}: NATS_TLS_CA_FILE {ca!r} must be Secret {want_ca[0]} key {want_ca[1]}, got {src}")
            if server_verify and not env.get("NATS_TLS_CERT_FILE"):
                fail(f"{where}: the NATS server verifies client certificates; this pod has none")
            seed = env.get("NATS_NKEY_FILE", ("", ""))[1]
            src = file_source(spec, c, seed) if seed else None
            want = (dig(nats, "auth", "secretName"), f"{svc}.nk")
            if not src or src[:2] != want:
                fail(f"{where}: NATS_NKEY_FILE {seed!r} must be Secret {want[0]} key {want[1]}, got {src}")
            elif src[2] is None or [it["key"] for it in src[2]] != [want[1]]:
                fail(f"{where}: the pod must mount its own NKey seed only ({want[1]}), not {src[2] or 'every key'}")
            if not reaches(docs, labels, nats_port, nats_pods, NATS[1]):
                fail(f"{where}: no NetworkPolicy lets these pods reach the NATS servers on {nats_port}")
    missing = {("Deployment", s) for s in SERVICES} - seen
    if missing:
        fail(f"{label}: no Deployment of {sorted(s for _, s in missing)} with DB_HOST/DATABASE_URL and NATS_URL")
    if len(failures) == before:
        ok(f"{label}: egress to NATS ({NATS[1]}, the StatefulSet's labels) and PostgreSQL (cnpg.io/cluster: "
           f"{cluster['metadata']['name']}) only; NATS_URL, DB_HOST, verify-full, CAs, the managed roles' Secrets, "
           f"one NKey seed each, TLS both sides")


def check_bootstrap(label: str, docs: list[dict] | None, values: dict, cluster: dict, secrets: list[dict]) -> None:
    """The superuser way: the hook runs as the Cluster's superuser, from its Secret's copy
    (docs: our chart's render with pizza-values-superuser.yaml; None: the Cluster side only)."""
    before = len(failures)
    spec = cluster["spec"]
    secret = dig(values, "bootstrap", "adminSecret", "name")
    if spec.get("enableSuperuserAccess") is not True or dig(spec, "superuserSecret", "name", default=f"{cluster['metadata']['name']}-superuser") != secret:
        fail(f"{label}: the Cluster must have enableSuperuserAccess: true and superuserSecret {secret}")
    if dig(spec, "bootstrap", "initdb", "postInitApplicationSQL") or dig(spec, "managed", "roles"):
        fail(f"{label}: in this way the hook makes the roles: no postInitApplicationSQL or managed roles")
    copies = {d["metadata"].get("namespace"): d for d in secrets if d["metadata"]["name"] == secret}
    for ns in (DB_NS, PIZZA[1]):
        if ns not in copies or secret_data(copies[ns]).get("username") != "postgres":
            fail(f"{label}: Secret {secret} with username postgres must exist in {ns}")
    if len(copies) == 2 and secret_data(copies[DB_NS]) != secret_data(copies[PIZZA[1]]):
        fail(f"{label}: the two copies of Secret {secret} differ")
    jobs = [(w, t) for w, t in pod_templates(docs or []) if w["kind"] == "Job" and "bootstrap" in w["metadata"]["name"]]
    if docs is not None and not jobs:
        fail(f"{label}: bootstrap.enabled renders no bootstrap Job")
    for w, t in jobs:
        env = container_env(docs, t, t["spec"]["containers"][0])
        refs = {v[1] for v in env.values() if v[0] == "secret"}
        if secret not in refs:
            fail(f"{label}: Job {w['metadata']['name']} must log in with Secret {secret}, reads {sorted(refs)}")
        for svc in SERVICES:
            e = env.get(f"{svc.upper()}_DB_PASSWORD")
            want = dig(values, "postgres", "credentials", svc, "existingSecret")
            if not e or e[0] != "secret" or e[1] != want:
                fail(f"{label}: Job {w['metadata']['name']}: {svc.upper()}_DB_PASSWORD must come from Secret {want}, got {e}")
        host = env.get("PGHOST", ("", ""))[1]
        if host not in cnpg_service_hosts(cluster):
            fail(f"{label}: Job {w['metadata']['name']}: PGHOST {host!r} must be the Cluster's read-write Service")
        if env.get("PGSSLMODE", ("", ""))[1] != "verify-full":
            fail(f"{label}: Job {w['metadata']['name']}: PGSSLMODE must be verify-full, got {env.get('PGSSLMODE')}")
        ca = env.get("PGSSLROOTCERT", ("", ""))[1]
        src = file_source(t["spec"], t["spec"]["containers"][0], ca) if ca else None
        want_ca = (dig(values, "postgres", "ca", "secretName"), dig(values, "postgres", "ca", "key", default="ca.crt"))
        if not src or src[:2] != want_ca:
            fail(f"{label}: Job {w['metadata']['name']}: PGSSLROOTCERT {ca!r} must be Secret {want_ca[0]} key {want_ca[1]}, got {src}")
        admin = dig(values, "bootstrap", "adminSecret", default={}) or {}
        for var, key in (("PGUSER", admin.get("usernameKey", "username")), ("PGPASSWORD", admin.get("passwordKey", "password"))):
            if env.get(var) != ("secret", secret, key):
                fail(f"{label}: Job {w['metadata']['name']}: {var} must come from Secret {secret} key {key}, got {env.get(var)}")
        if not reaches(docs, t["metadata"].get("labels") or {}, int(dig(values, "postgres", "port", default=5432)),
                       cnpg_pods(cluster), DB_NS):
            fail(f"{label}: no NetworkPolicy lets Job {w['metadata']['name']} reach the Cluster's pods")
    if len(failures) == before and docs is None:
        ok(f"{label}: the Cluster's superuser Secret {secret} (username postgres) in {DB_NS} and {PIZZA[1]}")
    elif len(failures) == before:
        ok(f"{label}: the bootstrap hook logs in as postgres from {secret} (in {DB_NS} and {PIZZA[1]}) and sets "
           "the roles' passwords from the services' Secrets")


def check_certificate(label: str, cert_docs: list[dict], values: dict) -> None:
    before = len(failures)
    hosts = {re.fullmatch(r"(?:nats|tls)://([^:/]+).*", u.strip()).group(1)
             for u in dig(values, "nats", "url", default="").split(",") if re.fullmatch(r"(?:nats|tls)://([^:/]+).*", u.strip())}
    names = {n for c in by_kind(cert_docs, "Certificate") if not dig(c, "spec", "isCA") for n in dig(c, "spec", "dnsNames", default=[])}
    for h in hosts:
        if h not in names and not any(n.startswith("*.") and h.split(".", 1)[-1] == n[2:] for n in names):
            fail(f"{label}: the NATS server certificate must name {h} (our chart's nats.url) for verification")
    if len(failures) == before:
        ok(f"{label}: the NATS server certificate names {', '.join(sorted(hosts))}")


# --------------------------------------------------------------------------------------
# A stand-in for our chart's render (the values interface, rendered the way the chart is to):
# the self-test's subject while helm/pizza does not render the interface yet.


def standin_render(values: dict) -> list[dict]:
    pg, nats = values["postgres"], values["nats"]
    docs = []
    for svc in SERVICES:
        cred = pg["credentials"][svc]
        labels = {"app.kubernetes.io/name": f"pizza-{svc}", "app.kubernetes.io/instance": PIZZA[0],
                  "app.kubernetes.io/part-of": "pizza"}
        meta = {"name": f"pizza-{svc}", "namespace": PIZZA[1], "labels": labels}
        docs.append({"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": {
            "DB_HOST": pg["host"], "DB_PORT": str(pg["port"]), "DB_NAME": pg["database"], "DB_SSLMODE": pg["sslMode"],
            "DB_SSLROOTCERT": f"/etc/pizza/postgres-ca/{pg['ca']['key']}", "NATS_URL": nats["url"],
            "NATS_TLS_REQUIRED": str(nats["tls"]["enabled"]).lower(), "NATS_TLS_CA_FILE": f"/etc/pizza/nats-ca/{nats['tls']['ca']['key']}",
            "NATS_NKEY_FILE": f"/etc/pizza/nats-auth/{svc}.nk"}})
        env = [{"name": "DB_USER", "valueFrom": {"secretKeyRef": {"name": cred["existingSecret"], "key": cred["usernameKey"]}}},
               {"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": cred["existingSecret"], "key": cred["passwordKey"]}}}]
        container = {"name": svc, "image": "x", "envFrom": [{"configMapRef": {"name": f"pizza-{svc}"}}], "env": env,
                     "volumeMounts": [{"name": "postgres-ca", "mountPath": "/etc/pizza/postgres-ca", "readOnly": True},
                                      {"name": "nats-ca", "mountPath": "/etc/pizza/nats-ca", "readOnly": True},
                                      {"name": "nats-auth", "mountPath": "/etc/pizza/nats-auth", "readOnly": True}]}
        volumes = [{"name": "postgres-ca", "secret": {"secretName": pg["ca"]["secretName"], "items": [{"key": pg["ca"]["key"], "path": pg["ca"]["key"]}]}},
                   {"name": "nats-ca", "secret": {"secretName": nats["tls"]["ca"]["secretName"], "items": [{"key": nats["tls"]["ca"]["key"], "path": nats["tls"]["ca"]["key"]}]}},
                   {"name": "nats-auth", "secret": {"secretName": nats["auth"]["secretName"], "items": [{"key": f"{svc}.nk", "path": f"{svc}.nk"}]}}]
        docs.append({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta, "spec": {
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": {"containers": [container], "volumes": volumes}}}})

        def peer(e: dict) -> dict:
            return {k: {"matchLabels": v} for k, v in (("namespaceSelector", e["namespaceLabels"]), ("podSelector", e["podLabels"])) if v}
        docs.append({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": meta, "spec": {
            "podSelector": {"matchLabels": labels}, "policyTypes": ["Ingress", "Egress"], "egress": [
                {"to": [peer(pg["egress"])], "ports": [{"port": pg["port"], "protocol": "TCP"}]},
                {"to": [peer(nats["egress"])], "ports": [{"port": nats["port"], "protocol": "TCP"}]}]}})
    return docs


# --------------------------------------------------------------------------------------


def cross_check(world: dict) -> None:
    """Everything but rendering and the schema validations, on a world of loaded objects."""
    p = ""
    check_nats(f"{p}nats", world["nats_docs"], world["nats_values"], world["cert_docs"])
    role_secrets = check_cluster(f"{p}cloudnativepg/cluster.yaml", world["cluster"], world["secrets"])
    if world.get("pizza_docs") is not None:
        check_chart(f"{p}our chart", world["pizza_docs"], world["pizza_values"], world["nats_docs"],
                    world["nats_values"], world["cluster"], role_secrets, world["secrets"])
        check_certificate(f"{p}nats/certificate.yaml", world["cert_docs"], world["pizza_values"])
    check_bootstrap(f"{p}superuser way", world.get("su_docs"), world["su_values"], world["su_cluster"], world["su_secrets"])


def self_test(world: dict, subject: str) -> None:
    global failures, quiet
    saved = failures

    def sts_labels(w):
        return nats_statefulset(w["nats_docs"])["spec"]["template"]["metadata"]["labels"]

    def nps(w, port):
        return [peer for np in by_kind(w["pizza_docs"], "NetworkPolicy") for r in np["spec"].get("egress") or []
                if r.get("ports") and on_port(r, port) for peer in r.get("to") or []]

    def set_env(w, var, value):
        for d in w["pizza_docs"]:
            if d.get("kind") == "ConfigMap" and var in (d.get("data") or {}):
                d["data"][var] = value
            for _, t in pod_templates([d]):
                for c in t["spec"]["containers"]:
                    for e in c.get("env") or []:
                        if e["name"] == var:
                            e.pop("valueFrom", None)
                            e["value"] = value

    def conf_edit(w, fn):
        cm = [c for c in by_kind(w["nats_docs"], "ConfigMap") if "nats.conf" in (c.get("data") or {})][0]
        cm["data"]["nats.conf"] = fn(cm["data"]["nats.conf"])

    def sql(w):
        return w["cluster"]["spec"]["bootstrap"]["initdb"]["postInitApplicationSQL"]

    def secret(w, ns, name):
        return [d for d in w["secrets"] if d["metadata"]["name"] == name and d["metadata"]["namespace"] == ns][0]

    def rename_db_secret(w, old, new):
        for _, t in pod_templates(w["pizza_docs"]):
            for c in t["spec"]["containers"]:
                for e in c.get("env") or []:
                    ref = (e.get("valueFrom") or {}).get("secretKeyRef")
                    if ref and ref.get("name") == old:
                        ref["name"] = new

    def all_seeds(w):
        for _, t in pod_templates(w["pizza_docs"]):
            for v in t["spec"].get("volumes") or []:
                if (v.get("secret") or {}).get("secretName") == dig(w["pizza_values"], "nats", "auth", "secretName"):
                    v["secret"].pop("items", None)

    nats_port = int(dig(world["pizza_values"], "nats", "port", default=4222))
    pg_port = int(dig(world["pizza_values"], "postgres", "port", default=5432))
    def bad_nkey(t):
        key = re.findall(r'"(U[A-Z2-7]{55})"', t)[0]
        return t.replace(key, key[:-1] + ("B" if key.endswith("A") else "A"))

    def hook_secret(w):
        for _, t in pod_templates(w["su_docs"]):
            for c in t["spec"]["containers"]:
                for e in c.get("env") or []:
                    if e["name"] == "PGPASSWORD":
                        e["valueFrom"]["secretKeyRef"]["name"] = "pizza-db-app"

    # what breaks -> (how, a phrase the failure must say: caught for the right reason)
    cases = {
        "the NATS pods labelled otherwise than our egress selects": (
            lambda w: sts_labels(w).__setitem__("app.kubernetes.io/name", "nats-server"), "does not select NATS's pods"),
        "our NATS egress in the wrong namespace": (
            lambda w: [p.__setitem__("namespaceSelector", {"matchLabels": ns_labels("nats")}) for p in nps(w, nats_port)],
            "does not select namespace messaging"),
        "our PostgreSQL egress selecting another Cluster": (
            lambda w: [p["podSelector"]["matchLabels"].__setitem__("cnpg.io/cluster", "other-db") for p in nps(w, pg_port)],
            "does not select PostgreSQL's pods"),
        "a DB Secret our chart reads that the Cluster does not declare": (
            lambda w: rename_db_secret(w, "pizza-db-order", "pizza-db-orders"), "must come from Secret pizza-db-order"),
        "DB_HOST not the Cluster's read-write Service": (
            lambda w: set_env(w, "DB_HOST", "pizza-db-ro.database.svc"), "DB_HOST 'pizza-db-ro.database.svc'"),
        "sslmode weaker than verify-full": (lambda w: set_env(w, "DB_SSLMODE", "require"), "DB_SSLMODE must be verify-full"),
        "NATS_URL not the NATS chart's Service": (
            lambda w: set_env(w, "NATS_URL", "nats://nats.default.svc:4222"), "NATS_URL 'nats://nats.default.svc:4222'"),
        "a pod mounting every service's NKey seed": (all_seeds, "its own NKey seed only"),
        "NATS TLS off on the server": (
            lambda w: conf_edit(w, lambda t: re.sub(r',\s*"tls": \{[^}]*\}', "", t)), "TLS"),
        "an invalid NKey (bad checksum)": (lambda w: conf_edit(w, bad_nkey), "distinct user NKeys"),
        "JetStream without a PVC": (
            lambda w: nats_statefulset(w["nats_docs"])["spec"].__setitem__("volumeClaimTemplates", []), "must be a PVC"),
        "a role missing from postInitApplicationSQL": (
            lambda w: sql(w).__setitem__(0, sql(w)[0].replace(", 'payment_svc'", "")), "postInitApplicationSQL[0]"),
        "a schema statement missing from postInitApplicationSQL": (
            lambda w: sql(w).remove("CREATE SCHEMA IF NOT EXISTS ordering AUTHORIZATION order_svc"), "must be deploy/db's statement"),
        "a managed role without its Secret": (
            lambda w: w["secrets"].remove(secret(w, DB_NS, "pizza-db-menu")), "Secret pizza-db-menu must exist in the Cluster's"),
        "a role Secret whose username is not the role": (
            lambda w: secret(w, DB_NS, "pizza-db-menu")["stringData"].__setitem__("username", "menu"), "with username menu_svc"),
        "the two copies of a role Secret differing": (
            lambda w: secret(w, PIZZA[1], "pizza-db-payment")["stringData"].__setitem__("password", "x"), "the same content"),
        "a managed role with superuser": (
            lambda w: w["cluster"]["spec"]["managed"]["roles"][0].__setitem__("superuser", True), "must not have superuser"),
        "the superuser Secret missing from our namespace": (
            lambda w: w["su_secrets"].remove([d for d in w["su_secrets"] if d["metadata"]["namespace"] == PIZZA[1]][0]),
            "must exist in pizza"),
        "the bootstrap hook logging in with another Secret": (hook_secret, "PGPASSWORD must come from Secret pizza-db-superuser"),
    }
    schema_cases = {
        "a Cluster field misspelt (enableSuperUserAccess)": (
            lambda c: c["spec"].__setitem__("enableSuperUserAccess", False), "'enableSuperUserAccess' was unexpected"),
        "a Cluster with a wrong type (instances: \"3\")": (lambda c: c["spec"].__setitem__("instances", "3"), "instances"),
        "a managed role with an unknown ensure": (
            lambda c: c["spec"]["managed"]["roles"][0].__setitem__("ensure", "exists"), "is not one of"),
    }
    chart_only = ("our ", "DB_HOST", "sslmode", "NATS_URL", "DB Secret", "pod mounting")

    def run(what, needle, check):
        global failures, quiet
        failures, quiet = [], True
        check()
        got = failures
        failures, quiet = saved, False
        if not got:
            fail(f"self-test: {what} was not caught")
        elif not any(needle in m for m in got):
            fail(f"self-test: {what} was caught, but not for that reason ({got[0]})")
        else:
            ok(f"self-test: {what} is caught")

    for what, (breakit, needle) in cases.items():
        if world.get("pizza_docs") is None and any(k in what for k in chart_only):
            continue
        if world.get("su_docs") is None and "hook" in what:
            continue
        broken = copy.deepcopy(world)
        breakit(broken)
        run(what, needle, lambda: cross_check(broken))
    for what, (breakit, needle) in schema_cases.items():
        broken = copy.deepcopy(world["cluster"])
        breakit(broken)
        run(what, needle, lambda: cnpg_validate("self-test", [broken]))
    print(f"  (the chart cases ran on {subject})")


def main() -> int:
    global failures, quiet
    skip_chart = "--skip-chart" in sys.argv[1:]
    world: dict = {}

    print("NATS: the official chart (vendored) with deploy/examples/nats/values.yaml")
    world["nats_values"] = values_file(EX / "nats" / "values.yaml")
    world["nats_docs"] = render(VENDOR / "nats", world["nats_values"], NATS)
    world["cert_docs"] = load_docs(EX / "nats" / "certificate.yaml")
    kube_validate("nats", world["nats_docs"])
    check_nats("nats", world["nats_docs"], world["nats_values"], world["cert_docs"])
    nats_server_test(world["nats_docs"])

    print("CloudNativePG: deploy/examples/cloudnativepg")
    cluster_docs = load_docs(EX / "cloudnativepg" / "cluster.yaml")
    su_docs = load_docs(EX / "cloudnativepg" / "cluster-superuser.yaml")
    cnpg_validate("cloudnativepg/cluster.yaml", by_kind(cluster_docs, "Cluster"))
    cnpg_validate("cloudnativepg/cluster-superuser.yaml", by_kind(su_docs, "Cluster"))
    world["cluster"] = by_kind(cluster_docs, "Cluster")[0]
    world["su_cluster"] = by_kind(su_docs, "Cluster")[0]
    world["secrets"] = by_kind(load_docs(EX / "cloudnativepg" / "secrets.yaml"), "Secret")
    world["su_secrets"] = by_kind(su_docs, "Secret")
    kube_validate("cloudnativepg Secrets", world["secrets"] + world["su_secrets"])
    role_secrets = check_cluster("cloudnativepg/cluster.yaml", world["cluster"], world["secrets"])

    world["pizza_values"] = merged(values_file(CHART / "values-prod.yaml"), values_file(EX / "pizza-values.yaml"))
    world["pizza_docs"] = world["su_docs"] = None
    world["su_values"] = merged(world["pizza_values"], values_file(EX / "pizza-values-superuser.yaml"))
    check_certificate("nats/certificate.yaml", world["cert_docs"], world["pizza_values"])
    check_bootstrap("cloudnativepg/cluster-superuser.yaml", None, world["su_values"], world["su_cluster"], world["su_secrets"])
    chart_ok = False
    if skip_chart:
        print("our chart: skipped (--skip-chart)")
    else:
        print("our chart (helm/pizza) with values-prod.yaml + deploy/examples/pizza-values.yaml")
        before = len(failures)
        try:
            docs = render(CHART, world["pizza_values"], PIZZA)
            su = render(CHART, world["su_values"], PIZZA)
        except Exception as e:  # noqa: BLE001  (the chart's own error, reported)
            fail(f"our chart: does not render with the examples' values: {str(e)[:1500]}")
        else:
            import helm_python

            res = helm_python.lint(str(CHART), world["pizza_values"], strict=True, namespace=PIZZA[1])
            bad = (res.get("errors") or []) + [m for m in res.get("messages", []) if m.get("severity", 0) > 1]
            fail(f"our chart: helm lint --strict with the examples' values: {bad}") if bad else ok(
                "our chart: helm lint --strict with the examples' values")
            kube_validate("our chart", docs)
            check_chart("our chart", docs, world["pizza_values"], world["nats_docs"], world["nats_values"],
                        world["cluster"], role_secrets, world["secrets"])
            if any("bootstrap" in j["metadata"]["name"] for j in by_kind(docs, "Job")):
                fail("our chart: bootstrap.enabled: false must render no bootstrap Job")
            print("our chart, the superuser way (+ pizza-values-superuser.yaml, cloudnativepg/cluster-superuser.yaml)")
            kube_validate("our chart, superuser way", su)
            check_bootstrap("superuser way", su, world["su_values"], world["su_cluster"], world["su_secrets"])
            world["pizza_docs"], world["su_docs"] = docs, su
            chart_ok = len(failures) == before

    print("self-test")
    subject = "our chart's render"
    if not chart_ok:
        why = "--skip-chart" if skip_chart else "our chart's own did not pass"
        world["pizza_docs"], world["su_docs"] = standin_render(world["pizza_values"]), None
        subject = f"a stand-in render of the values interface ({why})"
        saved, failures, quiet = failures, [], True
        cross_check(world)
        stand_in, failures, quiet = failures, saved, False
        if stand_in:
            fail("self-test: the stand-in render of the examples' values does not pass the checks:\n      "
                 + "\n      ".join(stand_in))
        else:
            ok("self-test: a stand-in render of the values interface passes the cross-checks")
    self_test(world, subject)

    print()
    if failures:
        print(f"examples checks: {len(failures)} failed")
        return 1
    print("examples checks: all passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
