#!/usr/bin/env python3
"""Proves the Kubernetes artifacts offline (no cluster, no Docker engine).

- helm lint, and a render of the chart with every values file (Helm's own Go SDK, through
  the PyPI wheel helm-python-sdk);
- kubernetes-validate --strict on every rendered object and on the kustomize renders;
- checkov on the rendered manifests, with zero failures (skips listed in checkov.yaml, each
  with its reason);
- consistency with the binaries: probe paths, ports, gRPC ports, ingress paths, and every
  environment variable the manifests set is one the binary reads (from its --help);
- that the grace period covers preStop + drain + the request timeout;
- that secrets (the provider's key, the deposit webhook key, JWT keys, DB passwords) reach the
  pods from a Secret only, and the provider's key the payment pods only;
- that only the payment pods (to the payment provider) and the login pods (to the social login
  providers, when one is on) may leave the cluster, on 443: every other egress stays on
  cluster addresses;
- conventions: every object carries the recommended labels (name, component, instance, part-of,
  version, managed-by, helm.sh/chart); the values schema refuses unknown keys (a typo fails the
  install instead of being ignored);
- Secret files (PostgreSQL's CA, NATS credentials or NKey seed, NATS TLS): mounted read-only,
  not world-readable, each service holding only its own NATS identity, and every *_FILE path
  the env names is a file one of the pod's Secret volumes provides; every service reaches
  PostgreSQL and NATS through an egress rule with a peer (ci/secured-values.yaml renders all
  of it);
- monitoring: every Service and pod template of a service carries app.kubernetes.io/component
  (the ServiceMonitors' jobLabel, so a series' job is login/menu/order/payment), the
  PrometheusRule is files/prometheus/alerts.yaml with its runbook base filled in, and the
  dashboards' ConfigMaps (monitoring.dashboards.enabled) hold files/dashboards/*.json, labelled
  for Grafana's sidecar (deploy/checks/observability.py proves the rules and dashboards
  themselves);
- and a self-test: a deliberately broken manifest (wrong probe path, no securityContext, a
  secret in a ConfigMap, order pods reaching the internet, …) must make these checks fail.

Usage: check.py BIN_DIR   (BIN_DIR holds the built pizza-* binaries)
"""

import copy
import ipaddress
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "helm" / "pizza"
KUSTOMIZE = ROOT / "deploy" / "k8s"
ENVS = {"dev": "values-dev.yaml", "stg": "values-stg.yaml", "prod": "values-prod.yaml"}
K8S_VERSION = "1.31.0"
SERVICES = {"login": True, "menu": True, "order": False, "payment": False}  # name -> serves gRPC
CRD_KINDS = {"ServiceMonitor", "PrometheusRule"}
# Environment that carries secrets: only ever from a Secret (secretKeyRef).
SECRET_ENV = {"TOSS_SECRET_KEY", "DEPOSIT_WEBHOOK_SECRET", "JWT_SECRET", "JWT_SECRET_PREVIOUS", "DB_PASSWORD", "DATABASE_URL",
              "OAUTH_GOOGLE_CLIENT_SECRET", "OAUTH_KAKAO_CLIENT_SECRET", "OAUTH_NAVER_CLIENT_SECRET"}
# Secret keys only the payment Deployment may read (the provider's key moves money).
PAYMENT_ONLY_KEYS = {"toss-secret-key", "deposit-webhook-secret"}
# Addresses inside a cluster (pods, services, the private networks PostgreSQL and NATS sit in);
# an egress peer outside these, or a rule with no peer at all, leaves the cluster.
CLUSTER_NETS = [ipaddress.ip_network(n) for n in
                ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7")]

failures: list[str] = []
quiet = False


def fail(msg: str) -> None:
    failures.append(msg)
    if not quiet:
        print(f"  FAIL {msg}")


def ok(msg: str) -> None:
    print(f"  ok   {msg}")


def duration_secs(s: str) -> float:
    m = re.fullmatch(r"(\d+)(ms|s|m|h|d)?", s)
    if not m:
        raise ValueError(s)
    n, unit = int(m.group(1)), m.group(2) or "s"
    return n * {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}[unit]


def binary_env(bin_dir: Path, svc: str) -> set[str]:
    """The environment variables `pizza-<svc> serve` reads, from its own --help."""
    out = subprocess.run(
        [str(bin_dir / f"pizza-{svc}"), "serve", "--help"],
        capture_output=True, text=True, env={"PATH": os.environ.get("PATH", "")}, check=True,
    ).stdout
    names = set(re.findall(r"\[env: ([A-Z0-9_]+)", out))
    assert names, f"no env names in pizza-{svc} --help"
    return names


# --------------------------------------------------------------------------------------
# Rendering


def merged(base: dict, extra: dict) -> dict:
    out = dict(base)
    for k, v in extra.items():
        out[k] = merged(out.get(k) or {}, v) if isinstance(v, dict) else v
    return out


def render_chart(env: str, extra: dict | None = None) -> list[dict]:
    import helm_python

    chart = helm_python.Chart.load(str(CHART))
    values = merged(helm_python.values_from_yaml((CHART / ENVS[env]).read_text()), extra or {})
    rendered = chart.render(values, name="pizza", namespace=f"pizza-{env}", is_install=True)
    docs = []
    for path, text in sorted(rendered.items()):
        if path.endswith("NOTES.txt"):
            continue
        docs += [d for d in yaml.safe_load_all(text) if d]
    return docs


def render_kustomize(env: str) -> list[dict]:
    out = subprocess.run(
        ["kubectl", "kustomize", str(KUSTOMIZE / "overlays" / env)],
        capture_output=True, text=True, check=True,
    ).stdout
    return [d for d in yaml.safe_load_all(out) if d]


# --------------------------------------------------------------------------------------
# Checks


def by_kind(docs: list[dict], kind: str) -> list[dict]:
    return [d for d in docs if d.get("kind") == kind]


def service_of(obj: dict) -> str | None:
    name = obj.get("metadata", {}).get("labels", {}).get("app.kubernetes.io/name", "")
    return name.removeprefix("pizza-") if name.removeprefix("pizza-") in SERVICES else None


def is_web(obj: dict) -> bool:
    """The web client's objects (its Deployment, PDB, …)."""
    return obj.get("metadata", {}).get("labels", {}).get("app.kubernetes.io/name") == "pizza-web"


def restricted(where: str, spec: dict, c: dict) -> None:
    """The Pod Security Standard "restricted", and what the platform adds to it."""
    psc, csc = spec.get("securityContext") or {}, c.get("securityContext") or {}
    if not (psc.get("runAsNonRoot") or csc.get("runAsNonRoot")):
        fail(f"{where}: must run as non-root")
    if (csc.get("runAsUser") or psc.get("runAsUser") or 0) < 10000:
        fail(f"{where}: UID must be >= 10000")
    if csc.get("allowPrivilegeEscalation") is not False:
        fail(f"{where}: allowPrivilegeEscalation must be false")
    if csc.get("readOnlyRootFilesystem") is not True:
        fail(f"{where}: the root filesystem must be read-only")
    if "ALL" not in (csc.get("capabilities") or {}).get("drop", []):
        fail(f"{where}: capabilities must drop ALL")
    if ((csc.get("seccompProfile") or psc.get("seccompProfile") or {}).get("type")) != "RuntimeDefault":
        fail(f"{where}: seccompProfile must be RuntimeDefault")
    if spec.get("automountServiceAccountToken") is not False:
        fail(f"{where}: the service account token must not be mounted")
    if not c.get("resources", {}).get("limits") or not c.get("resources", {}).get("requests"):
        fail(f"{where}: requests and limits are required")


def check_web(label: str, d: dict, docs: list[dict]) -> None:
    """The web client's nginx: restricted, probed, and serving the files the chart ships."""
    spec = d["spec"]["template"]["spec"]
    c = spec["containers"][0]
    where = f"{label}: {d['metadata']['name']}"
    restricted(where, spec, c)
    for probe in ("readinessProbe", "livenessProbe"):
        if c.get(probe, {}).get("httpGet", {}).get("path") != "/healthz":
            fail(f"{where}: {probe} must be GET /healthz")
    cms = {m["metadata"]["name"]: m.get("data", {}) for m in by_kind(docs, "ConfigMap")}
    files, conf = web_configmaps(spec, cms)
    for f in ("index.html", "app.js", "api.js", "i18n.js", "style.css"):
        if not files.get(f):
            fail(f"{where}: the web ConfigMap lacks {f}")
    if "nginx.conf" in files:
        fail(f"{where}: nginx.conf must not be among the files it serves")
    if "listen 8080;" not in conf:
        fail(f"{where}: nginx.conf must listen on the container port 8080")


def web_configmaps(spec: dict, cms: dict) -> tuple[dict, str]:
    """The files the web pod serves (volume "files") and its nginx.conf (volume "nginx")."""
    vols = {v["name"]: (v.get("configMap") or {}).get("name") for v in spec.get("volumes", [])}
    return cms.get(vols.get("files"), {}), cms.get(vols.get("nginx"), {}).get("nginx.conf", "")


def check_deployments(label: str, docs: list[dict], env_names: dict[str, set[str]]) -> int:
    """Consistency with the binaries and the restricted security profile; returns failures."""
    before = len(failures)
    all_deps = by_kind(docs, "Deployment")
    deps = [d for d in all_deps if service_of(d)]
    webs = [d for d in all_deps if is_web(d)]
    if sorted(service_of(d) for d in deps) != sorted(SERVICES) or len(all_deps) != len(deps) + len(webs):
        fail(f"{label}: expected one Deployment per service (and the web client's), got "
             f"{[d['metadata']['name'] for d in all_deps]}")
    for d in webs:
        check_web(label, d, docs)
    configmaps = {d["metadata"]["name"]: d.get("data", {}) for d in by_kind(docs, "ConfigMap")}
    for d in deps:
        svc = service_of(d)
        spec = d["spec"]["template"]["spec"]
        where = f"{label}: {d['metadata']['name']}"
        c = spec["containers"][0]
        ports = {p["name"]: p["containerPort"] for p in c.get("ports", [])}
        config = {}
        for ef in c.get("envFrom", []):
            cm = ef.get("configMapRef", {}).get("name")
            if cm is not None:
                config.update(configmaps.get(cm, {}))
        if ports.get("http") != 8000:
            fail(f"{where}: http port must be 8000 (HTTP_ADDR), got {ports}")
        if SERVICES[svc] != ("grpc" in ports) or (SERVICES[svc] and ports.get("grpc") != 50051):
            fail(f"{where}: grpc port must be 50051 exactly when the service serves gRPC, got {ports}")
        rp = c.get("readinessProbe", {}).get("httpGet", {})
        lp = c.get("livenessProbe", {}).get("httpGet", {})
        if rp.get("path") != "/healthz" or rp.get("port") not in ("http", 8000):
            fail(f"{where}: readiness probe must be GET /healthz on http, got {rp}")
        if lp.get("path") != "/livez" or lp.get("port") not in ("http", 8000):
            fail(f"{where}: liveness probe must be GET /livez on http, got {lp}")
        restricted(where, spec, c)
        # The addresses the binary binds match the container ports; callers use the callee's
        # gRPC port.
        for var, port_name in (("HTTP_ADDR", "http"), ("GRPC_ADDR", "grpc")):
            addr = config.get(var)
            if addr is not None and int(addr.rsplit(":", 1)[1]) != ports.get(port_name):
                fail(f"{where}: {var}={addr} but the {port_name} port is {ports.get(port_name)}")
        for var in ("LOGIN_GRPC_URL", "MENU_GRPC_URL"):
            url = config.get(var)
            if url is not None and not url.endswith(":50051"):
                fail(f"{where}: {var}={url} must reach the callee's grpc port 50051")
        # Environment: every name set must be one the binary reads.
        set_names = {e["name"] for e in c.get("env", [])} | set(config)
        unknown = set_names - env_names[svc]
        if unknown:
            fail(f"{where}: env the binary does not read: {sorted(unknown)}")
        if svc == "login" and "JWT_SECRET" not in set_names:
            fail(f"{where}: JWT_SECRET is required")
        # Secrets from a Secret only: never a literal value, never a ConfigMap.
        for e in c.get("env", []):
            if e["name"] in SECRET_ENV and "secretKeyRef" not in (e.get("valueFrom") or {}):
                fail(f"{where}: {e['name']} must come from a Secret (secretKeyRef), not a literal value")
        for var in sorted(SECRET_ENV & set(config)):
            fail(f"{where}: {var} must come from a Secret, not a ConfigMap")
        if svc == "payment":
            for var in ("TOSS_SECRET_KEY", "TOSS_CLIENT_KEY"):
                if var not in set_names:
                    fail(f"{where}: {var} is required")
            if "TOSS_CHECKOUT_URL" in set_names:
                fail(f"{where}: TOSS_CHECKOUT_URL is the local sandbox's; a deployment must not set it")
        # Grace period covers preStop + drain + the longest request.
        pre = (c.get("lifecycle", {}).get("preStop", {}).get("sleep", {}) or {}).get("seconds", 0)
        drain = duration_secs(config.get("SHUTDOWN_DRAIN", "5s"))
        timeout = duration_secs(config.get("HTTP_REQUEST_TIMEOUT", "10s"))
        grace = spec.get("terminationGracePeriodSeconds", 30)
        if pre <= 0:
            fail(f"{where}: a preStop sleep is required")
        if grace < pre + drain + timeout:
            fail(f"{where}: terminationGracePeriodSeconds {grace} < preStop {pre} + drain {drain} + timeout {timeout}")
    ingresses = by_kind(docs, "Ingress")
    paths = {p["path"] for i in ingresses for r in i["spec"]["rules"] for p in r["http"]["paths"]}
    # Each service at its prefix and, but for payment, at pizza_back's (/api/<service>); the
    # web client at /.
    want = ({f"/{s}" for s in SERVICES} | {f"/api/{s}" for s in SERVICES if s != "payment"}
            | ({"/"} if webs else set()))
    if paths != want:
        fail(f"{label}: ingress paths must be {sorted(want)}, got {sorted(paths)}")
    check_payment_secrets(label, docs)
    check_egress(label, docs)
    check_secret_files(label, docs)
    check_monitoring(label, docs)
    return len(failures) - before


def check_monitoring(label: str, docs: list[dict]) -> None:
    """A series' job is its service: the component label on the Services and pods, the
    ServiceMonitors' jobLabel; the rules and dashboards are the chart's files."""
    component = "app.kubernetes.io/component"
    services = {}
    for d in by_kind(docs, "Service") + by_kind(docs, "Deployment"):
        svc = service_of(d)
        if not svc:
            continue
        labels = d["metadata"].get("labels") or {}
        if d["kind"] == "Deployment":
            labels = d["spec"]["template"]["metadata"].get("labels") or {}
            if component in (d["spec"]["selector"].get("matchLabels") or {}):
                fail(f"{label}: Deployment {d['metadata']['name']}: {component} must not be in the (immutable) selector")
        else:
            services[d["metadata"]["name"]] = labels
        if labels.get(component) != svc:
            fail(f"{label}: {d['kind']} {d['metadata']['name']}: {'its pods need' if d['kind'] == 'Deployment' else 'needs'} "
                 f"{component}: {svc} (the ServiceMonitors' jobLabel: the job the alerts select)")
    for sm in by_kind(docs, "ServiceMonitor"):
        where = f"{label}: ServiceMonitor {sm['metadata']['name']}"
        if sm["spec"].get("jobLabel") != component:
            fail(f"{where}: jobLabel must be {component} (job = login, menu, order, payment)")
        sel = sm["spec"].get("selector", {}).get("matchLabels") or {}
        matched = [n for n, labels in services.items() if sel and all(labels.get(k) == v for k, v in sel.items())]
        if len(matched) != 1:
            fail(f"{where}: must select exactly one service's Service, selects {matched}")
    rules_file = CHART / "files" / "prometheus" / "alerts.yaml"
    for pr in by_kind(docs, "PrometheusRule"):
        where = f"{label}: PrometheusRule {pr['metadata']['name']}"
        urls = [r.get("annotations", {}).get("runbook_url", "") for g in pr["spec"].get("groups", [])
                for r in g.get("rules", []) if "alert" in r]
        base = urls[0].rsplit("/", 1)[0] if urls else ""
        if not re.match(r"https?://", base) or "__RUNBOOK_BASE__" in base:
            fail(f"{where}: runbook_url must be monitoring.runbookBaseUrl/<alert>.md, got {urls[:1]}")
        if pr["spec"] != yaml.safe_load(rules_file.read_text().replace("__RUNBOOK_BASE__", base)):
            fail(f"{where}: the spec must be files/prometheus/alerts.yaml (runbook base {base})")
    dashboards = sorted((CHART / "files" / "dashboards").glob("*.json"))
    cms = [c for c in by_kind(docs, "ConfigMap") if "-dashboard-" in c["metadata"]["name"]]
    if cms:
        got = {}
        for c in cms:
            if (c["metadata"].get("labels") or {}).get("grafana_dashboard") != "1":
                fail(f"{label}: ConfigMap {c['metadata']['name']} needs the label grafana_dashboard: \"1\" (Grafana's sidecar)")
            for k, v in (c.get("data") or {}).items():
                got[k] = json.loads(v)
        want = {f"pizza-{f.name}": json.loads(f.read_text()) for f in dashboards}
        if got != want:
            fail(f"{label}: the dashboards' ConfigMaps must hold files/dashboards/*.json, got {sorted(got)}")


def check_payment_secrets(label: str, docs: list[dict]) -> None:
    """The provider's key and the deposit webhook key reach the payment Deployment and no
    other pod (nor a whole Secret through envFrom, which would hand over every key)."""
    for d in by_kind(docs, "Deployment") + by_kind(docs, "Job"):
        spec = d["spec"]["template"]["spec"]
        is_payment = d["kind"] == "Deployment" and service_of(d) == "payment"
        for c in spec.get("initContainers", []) + spec.get("containers", []):
            where = f"{label}: {d['kind']} {d['metadata']['name']}"
            if any("secretRef" in ef for ef in c.get("envFrom", [])):
                fail(f"{where}: envFrom a whole Secret hands its every key to the pod")
            for e in c.get("env", []):
                key = ((e.get("valueFrom") or {}).get("secretKeyRef") or {}).get("key")
                if key in PAYMENT_ONLY_KEYS and not is_payment:
                    fail(f"{where}: only the payment pods may read the Secret's {key}")


def leaves_cluster(rule: dict) -> bool:
    """An egress rule reaching beyond the cluster: no peer at all (every address), or an
    ipBlock outside CLUSTER_NETS."""
    peers = rule.get("to")
    if not peers:
        return True
    for peer in peers:
        if "ipBlock" in peer:
            net = ipaddress.ip_network(peer["ipBlock"]["cidr"], strict=False)
            if not any(net.version == c.version and net.subnet_of(c) for c in CLUSTER_NETS):
                return True
    return False


def check_egress(label: str, docs: list[dict]) -> None:
    """Only the payment pods (the payment provider's API) and the login pods (social login's
    providers) leave the cluster, and only on 443; payment must be able to."""
    reach = set()
    for np in by_kind(docs, "NetworkPolicy"):
        spec = np["spec"]
        if "Egress" not in spec.get("policyTypes", ["Egress"] if "egress" in spec else []):
            continue
        sel = spec.get("podSelector") or {}
        who = (sel.get("matchLabels") or {}).get("app.kubernetes.io/name")
        if not who or sel.get("matchExpressions"):
            who = "every"  # selects more than one workload's pods
        for rule in spec.get("egress") or []:
            if not leaves_cluster(rule):
                continue
            ports = {(p.get("port"), p.get("protocol", "TCP")) for p in rule.get("ports") or [{}]}
            where = f"{label}: NetworkPolicy {np['metadata']['name']}"
            if who not in ("pizza-payment", "pizza-login"):
                fail(f"{where} lets {who} pods leave the cluster; only payment (to the payment "
                     "provider) and login (to the social login providers) may")
            elif ports != {(443, "TCP")}:
                fail(f"{where}: {who} leaves the cluster on 443/TCP only, got {sorted(ports, key=str)}")
            else:
                reach.add(who)
    if "pizza-payment" not in reach:
        fail(f"{label}: no NetworkPolicy lets the payment pods reach the provider (443 beyond the cluster)")


RECOMMENDED_LABELS = ("app.kubernetes.io/name", "app.kubernetes.io/component", "app.kubernetes.io/instance",
                      "app.kubernetes.io/part-of", "app.kubernetes.io/version", "app.kubernetes.io/managed-by",
                      "helm.sh/chart")
# The env that names a file the pod must have (from a Secret volume).
FILE_ENV = ("DB_SSLROOTCERT", "NATS_CREDS_FILE", "NATS_NKEY_FILE", "NATS_TLS_CA_FILE", "NATS_TLS_CERT_FILE",
            "NATS_TLS_KEY_FILE")


def check_conventions(label: str, docs: list[dict]) -> None:
    """The chart's objects and pod templates carry the recommended labels."""
    for d in docs:
        where = f"{label}: {d['kind']} {d['metadata']['name']}"
        missing = [k for k in RECOMMENDED_LABELS if k not in (d["metadata"].get("labels") or {})]
        if missing:
            fail(f"{where}: lacks the labels {missing}")
        tpl = (d.get("spec") or {}).get("template")
        if d["kind"] in ("Deployment", "Job") and tpl:
            missing = [k for k in RECOMMENDED_LABELS if k not in (tpl["metadata"].get("labels") or {})]
            if missing:
                fail(f"{where}: its pods lack the labels {missing}")


def check_secret_files(label: str, docs: list[dict]) -> None:
    """Files from Secrets: read-only, not world-readable, the pod's own NATS identity only, and
    present wherever the env points; PostgreSQL and NATS reachable through the egress."""
    for d in by_kind(docs, "Deployment") + by_kind(docs, "Job"):
        spec = d["spec"]["template"]["spec"]
        where = f"{label}: {d['kind']} {d['metadata']['name']}"
        svc = service_of(d)
        secret_vols = {v["name"]: v["secret"] for v in spec.get("volumes", []) if "secret" in v}
        for name, sv in secret_vols.items():
            if sv.get("defaultMode", 0o644) & 0o007:
                fail(f"{where}: Secret volume {name} is world-readable (defaultMode {oct(sv.get('defaultMode', 0o644))})")
            if name == "nats-auth":
                keys = [i["key"] for i in sv.get("items") or []]
                if not svc or keys not in ([f"{svc}.creds"], [f"{svc}.nk"]):
                    fail(f"{where}: mounts the NATS identities {keys or 'of every service'}; only its own "
                         f"({svc}.creds or {svc}.nk)")
        for c in spec.get("containers", []):
            files = set()
            for m in c.get("volumeMounts", []):
                if m["name"] in secret_vols:
                    if not m.get("readOnly"):
                        fail(f"{where}: Secret volume {m['name']} must be mounted read-only")
                    for i in secret_vols[m["name"]].get("items") or []:
                        files.add(f"{m['mountPath'].rstrip('/')}/{i['path']}")
            for e in c.get("env", []):
                if e["name"] in FILE_ENV and e.get("value") not in files:
                    fail(f"{where}: {e['name']}={e.get('value')} is no file of its Secret volumes {sorted(files)}")
    ports = {}
    for np in by_kind(docs, "NetworkPolicy"):
        who = ((np["spec"].get("podSelector") or {}).get("matchLabels") or {}).get("app.kubernetes.io/name", "")
        for rule in np["spec"].get("egress") or []:
            if rule.get("to"):
                ports.setdefault(who, set()).update(p.get("port") for p in rule.get("ports") or [])
    for svc in SERVICES:
        for port, what in ((5432, "PostgreSQL"), (4222, "NATS")):
            if port not in ports.get(f"pizza-{svc}", set()):
                fail(f"{label}: no egress rule with a peer lets pizza-{svc} reach {what} on {port}")


def kube_validate(label: str, docs: list[dict]) -> None:
    plain = [d for d in docs if d.get("kind") not in CRD_KINDS]
    with tempfile.TemporaryDirectory() as tmp:
        f = Path(tmp) / "all.yaml"
        f.write_text(yaml.safe_dump_all(plain))
        r = subprocess.run(
            ["kubernetes-validate", "-k", K8S_VERSION, "--strict", "--quiet", str(f)],
            capture_output=True, text=True,
        )
    if r.returncode != 0:
        fail(f"{label}: kubernetes-validate\n{r.stdout}{r.stderr}")
    else:
        ok(f"{label}: {len(plain)} objects valid for Kubernetes {K8S_VERSION} (strict)")


def checkov(label: str, docs: list[dict]) -> None:
    plain = [d for d in docs if d.get("kind") not in CRD_KINDS]
    with tempfile.TemporaryDirectory() as tmp:
        for i, d in enumerate(plain):
            (Path(tmp) / f"{i:03d}-{d['kind'].lower()}.yaml").write_text(yaml.safe_dump(d))
        r = subprocess.run(
            ["checkov", "-d", tmp, "--framework", "kubernetes", "--compact",
             "--config-file", str(Path(__file__).with_name("checkov.yaml")), "-o", "json"],
            capture_output=True, text=True,
        )
    try:
        report = json.loads(r.stdout)
    except json.JSONDecodeError:
        fail(f"{label}: checkov gave no report\n{r.stdout[-2000:]}{r.stderr[-2000:]}")
        return
    reports = report if isinstance(report, list) else [report]
    failed = [c for rep in reports for c in rep.get("results", {}).get("failed_checks", [])]
    passed = sum(rep.get("summary", {}).get("passed", 0) for rep in reports)
    if passed == 0 and not failed:
        fail(f"{label}: checkov checked nothing")
    for c in failed:
        fail(f"{label}: checkov {c['check_id']} {c['check_name']} — {c.get('resource')}")
    if not failed:
        ok(f"{label}: checkov {passed} checks passed, 0 failed")


def self_test(docs: list[dict], env_names: dict[str, set[str]], monitoring_docs: list[dict]) -> None:
    """The checks must catch a broken manifest; otherwise they prove nothing."""

    def pod(docs: list[dict], svc: str | None = None) -> tuple[dict, dict]:
        """The container and pod spec of svc's Deployment (default: the first one)."""
        dep = [d for d in by_kind(docs, "Deployment") if svc is None or service_of(d) == svc][0]
        spec = dep["spec"]["template"]["spec"]
        return spec["containers"][0], spec

    def of(docs: list[dict], kind: str, svc: str) -> dict:
        return [d for d in by_kind(docs, kind) if service_of(d) == svc][0]

    def literal(docs: list[dict], var: str, svc: str) -> None:
        c = pod(docs, svc)[0]
        c["env"] = [{"name": var, "value": "test_sk_literal"} if e["name"] == var else e for e in c["env"]]

    cases = {
        "a wrong readiness probe path": lambda d: pod(d)[0]["readinessProbe"]["httpGet"].__setitem__("path", "/health"),
        "a missing securityContext": lambda d: pod(d)[0].pop("securityContext"),
        "an env var the binary does not read": lambda d: pod(d)[0]["env"].append({"name": "DB_HOSTNAME", "value": "x"}),
        "a grace period shorter than the drain": lambda d: pod(d)[1].__setitem__("terminationGracePeriodSeconds", 5),
        "a container port the binary does not listen on": lambda d: pod(d)[0]["ports"][0].__setitem__("containerPort", 8080),
        "the provider's secret key as a literal value": lambda d: literal(d, "TOSS_SECRET_KEY", "payment"),
        "the deposit webhook key in a ConfigMap": lambda d: of(d, "ConfigMap", "payment")["data"].__setitem__(
            "DEPOSIT_WEBHOOK_SECRET", "x" * 32),
        "the provider's secret key handed to order": lambda d: [
            e["valueFrom"]["secretKeyRef"].__setitem__("key", "toss-secret-key")
            for e in pod(d, "order")[0]["env"] if e["name"] == "DB_PASSWORD"],
        "order pods reaching outside the cluster": lambda d: of(d, "NetworkPolicy", "order")["spec"]["egress"].append(
            {"ports": [{"port": 443, "protocol": "TCP"}]}),
        "payment pods cut off from the provider": lambda d: of(d, "NetworkPolicy", "payment")["spec"].__setitem__(
            "egress", [r for r in of(d, "NetworkPolicy", "payment")["spec"]["egress"] if not leaves_cluster(r)]),
        "a Service without its component label (job)": lambda d: of(d, "Service", "menu")["metadata"]["labels"].pop(
            "app.kubernetes.io/component"),
        "pods without their component label": lambda d: of(d, "Deployment", "order")["spec"]["template"]["metadata"][
            "labels"].pop("app.kubernetes.io/component"),
    }
    # The monitoring objects: prod renders them (serviceMonitor, prometheusRule), with the dashboards.
    monitoring_cases = {
        "a ServiceMonitor without jobLabel": lambda d: by_kind(d, "ServiceMonitor")[0]["spec"].pop("jobLabel"),
        "a PrometheusRule other than files/prometheus/alerts.yaml": lambda d: by_kind(d, "PrometheusRule")[0][
            "spec"]["groups"][0]["rules"].pop(),
        "a runbook_url still holding the placeholder": lambda d: by_kind(d, "PrometheusRule")[0]["spec"]["groups"][0][
            "rules"][0]["annotations"].__setitem__("runbook_url", "__RUNBOOK_BASE__/PizzaHigh5xxRatio.md"),
        "a dashboard ConfigMap without the sidecar's label": lambda d: [
            c for c in by_kind(d, "ConfigMap") if "-dashboard-" in c["metadata"]["name"]][0]["metadata"]["labels"].pop(
            "grafana_dashboard"),
    }
    for what, breakit in monitoring_cases.items():
        caught(what, monitoring_docs, breakit, lambda d: check_monitoring("self-test", d))
    for what, breakit in cases.items():
        caught(what, docs, breakit, lambda d: check_deployments("self-test", d, env_names))


def caught(what: str, docs: list[dict], breakit, *checks) -> None:
    """Breaks a copy of `docs` with `breakit`: `checks` must then fail, quietly."""
    global failures, quiet
    saved = failures
    broken = copy.deepcopy(docs)
    breakit(broken)
    failures, quiet = [], True
    for check in checks:
        check(broken)
    n = len(failures)
    failures, quiet = saved, False
    if n == 0:
        fail(f"self-test: {what} was not caught")
    else:
        ok(f"self-test: {what} is caught")


def env_of(c: dict) -> dict[str, dict]:
    return {e["name"]: e for e in c.get("env", [])}


def secret_ref(e: dict | None) -> tuple[str, str] | None:
    ref = ((e or {}).get("valueFrom") or {}).get("secretKeyRef")
    return (ref["name"], ref["key"]) if ref else None


def check_secured(docs: list[dict]) -> None:
    """What ci/secured-values.yaml asks for is what the pods get."""
    deps = {service_of(d): d for d in by_kind(docs, "Deployment") if service_of(d)}
    for svc, d in deps.items():
        where = f"chart secured: {d['metadata']['name']}"
        spec = d["spec"]["template"]["spec"]
        c = spec["containers"][0]
        env = env_of(c)
        want = {
            "DB_USER": (f"pizza-db-{svc}", "username"), "DB_PASSWORD": (f"pizza-db-{svc}", "password"),
            "DB_HOST": ("pizza-db-app", "host"), "DB_PORT": ("pizza-db-app", "port"), "DB_NAME": ("pizza-db-app", "dbname"),
        }
        for var, ref in want.items():
            if secret_ref(env.get(var)) != ref:
                fail(f"{where}: {var} must come from Secret {ref[0]} key {ref[1]}, got {env.get(var)}")
        literal = {k: (env.get(k) or {}).get("value") for k in
                   ("DB_SSLMODE", "DB_SSLROOTCERT", "NATS_NKEY_FILE", "NATS_TLS_REQUIRED", "NATS_TLS_CA_FILE")}
        if literal != {"DB_SSLMODE": "verify-full", "DB_SSLROOTCERT": "/etc/pizza/postgres-ca/ca.crt",
                       "NATS_NKEY_FILE": f"/etc/pizza/nats-auth/{svc}.nk", "NATS_TLS_REQUIRED": "true",
                       "NATS_TLS_CA_FILE": "/etc/pizza/nats-ca/ca.crt"}:
            fail(f"{where}: TLS and NKey settings wrong: {literal}")
        if not re.fullmatch(rf".*/pizza-{svc}@sha256:[0-9a-f]{{64}}", c["image"]):
            fail(f"{where}: the image must be pinned by its digest, got {c['image']}")
        if spec.get("imagePullSecrets") != [{"name": "ghcr-pull"}] or not spec.get("tolerations") \
                or spec.get("nodeSelector") != {"kubernetes.io/os": "linux"}:
            fail(f"{where}: pull secrets, tolerations and nodeSelector must reach the pod")
        if "DB_ACQUIRE_TIMEOUT" not in env:
            fail(f"{where}: extraEnv must reach the container")
    if "affinity" not in deps["order"]["spec"]["template"]["spec"]:
        fail("chart secured: services.order.affinity must reach the order pods")
    # podLabels alone (namespaceLabels: null): the Cluster's pods in the release's namespace.
    for np in by_kind(docs, "NetworkPolicy"):
        for rule in np["spec"].get("egress") or []:
            if {"port": 5432, "protocol": "TCP"} in rule.get("ports", []) and \
                    rule.get("to") != [{"podSelector": {"matchLabels": {"cnpg.io/cluster": "pizza-db"}}}]:
                fail(f"chart secured: NetworkPolicy {np['metadata']['name']}: PostgreSQL egress must be the "
                     f"Cluster's pods in the release's namespace, got {rule.get('to')}")
    # A Service and a PDB select the serving pods, never the migrate Job's.
    for d in by_kind(docs, "Service") + by_kind(docs, "PodDisruptionBudget"):
        svc = service_of(d)
        sel = d["spec"]["selector"]
        sel = sel.get("matchLabels", sel) if d["kind"] == "PodDisruptionBudget" else sel
        if svc and sel.get("app.kubernetes.io/component") != svc:
            fail(f"chart secured: {d['kind']} {d['metadata']['name']} would select the migrate Job's pods too")
    for job in by_kind(docs, "Job"):
        env = env_of(job["spec"]["template"]["spec"]["containers"][0])
        if "bootstrap" in job["metadata"]["name"]:
            if secret_ref(env.get("PGUSER")) != ("pizza-db-superuser", "username") or \
                    (env.get("PGSSLMODE") or {}).get("value") != "verify-full":
                fail(f"chart secured: the bootstrap must log in with bootstrap.adminSecret over verify-full, got {env}")
        elif (env.get("DB_SSLMODE") or {}).get("value") != "verify-full":
            fail(f"chart secured: Job {job['metadata']['name']} must migrate over verify-full TLS")


def check_strict_schema() -> None:
    """A typo in the values stops the install, naming the key."""
    import helm_python

    chart = helm_python.Chart.load(str(CHART))
    base = helm_python.values_from_yaml((CHART / ENVS["dev"]).read_text())
    for typo, key in (({"imagee": {"tag": "1.0"}}, "imagee"), ({"postgres": {"hots": "db"}}, "hots"),
                      ({"nats": {"auth": {"mode": "nkeys"}}}, "mode"),
                      ({"services": {"order": {"replica": 3}}}, "replica")):
        try:
            chart.render(merged(base, typo), name="pizza", namespace="pizza-dev", is_install=True)
        except Exception as e:  # helm_python.errors.HelmValuesError
            if key not in str(e):
                fail(f"values schema: {typo} was refused without naming {key}: {e}")
            continue
        fail(f"values schema: {typo} was accepted")
    ok("values schema: unknown keys and bad enums are refused, naming the key")


def self_test_secured(docs: list[dict], env_names: dict[str, set[str]]) -> None:
    """The secured render's own cases: NATS identities, Secret files, labels."""

    def dep(d: list[dict], svc: str) -> dict:
        return [x for x in by_kind(d, "Deployment") if service_of(x) == svc][0]["spec"]["template"]["spec"]

    def vol(d: list[dict], svc: str, name: str) -> dict:
        return [v for v in dep(d, svc)["volumes"] if v["name"] == name][0]["secret"]

    cases = {
        "order holding login's NKey seed": lambda d: vol(d, "order", "nats-auth")["items"][0].__setitem__("key", "login.nk"),
        "every service's NKey in one volume": lambda d: vol(d, "menu", "nats-auth").pop("items"),
        "a world-readable CA volume": lambda d: vol(d, "payment", "postgres-ca").__setitem__("defaultMode", 0o644),
        "a CA path no volume provides": lambda d: [e.__setitem__("value", "/etc/ssl/ca.crt") for e in
                                                   dep(d, "login")["containers"][0]["env"] if e["name"] == "DB_SSLROOTCERT"],
        "order pods cut off from NATS": lambda d: [r.__setitem__("to", []) for np in by_kind(d, "NetworkPolicy")
                                                   if np["metadata"]["name"].endswith("-order")
                                                   for r in np["spec"].get("egress", [])
                                                   if {"port": 4222, "protocol": "TCP"} in r.get("ports", [])],
        "a Job without the managed-by label": lambda d: by_kind(d, "Job")[0]["metadata"]["labels"].pop(
            "app.kubernetes.io/managed-by"),
        "DATABASE_URL as a literal": lambda d: dep(d, "menu")["containers"][0]["env"].append(
            {"name": "DATABASE_URL", "value": "postgres://menu_svc:pw@db/pizza"}),
    }
    for what, breakit in cases.items():
        caught(what, docs, breakit, lambda d: check_deployments("self-test", d, env_names),
               lambda d: check_conventions("self-test", d))


def main() -> int:
    bin_dir = Path(sys.argv[1])
    env_names = {svc: binary_env(bin_dir, svc) for svc in SERVICES}

    import helm_python

    print("helm lint")
    for env, values_file in {"default": "values.yaml", **ENVS}.items():
        values = helm_python.values_from_yaml((CHART / values_file).read_text())
        if env == "default":
            values = {"secrets": {"existingSecret": "pizza-secrets"}}
        res = helm_python.lint(str(CHART), values, strict=True, namespace=f"pizza-{env}")
        errors = res.get("errors") or []
        bad = [m for m in res.get("messages", []) if m.get("severity", 0) > 1]
        if errors or bad:
            fail(f"helm lint {values_file}: {errors} {bad}")
        else:
            ok(f"helm lint {values_file}")

    dev_docs = None
    for env in ENVS:
        print(f"chart, pizza-{env}")
        docs = render_chart(env)
        if env == "dev":
            dev_docs = docs
        if any(d["metadata"].get("namespace") != f"pizza-{env}" for d in docs):
            fail(f"chart {env}: every object must be in namespace pizza-{env}")
        n = check_deployments(f"chart {env}", docs, env_names)
        if n == 0:
            ok(f"chart {env}: probes, ports, env, secrets, egress, security and grace period match the binaries")
        before = len(failures)
        check_conventions(f"chart {env}", docs)
        if len(failures) == before:
            ok(f"chart {env}: every object and pod carries the recommended labels")
        kube_validate(f"chart {env}", docs)
        checkov(f"chart {env}", docs)
        if env == "prod":
            for d in by_kind(docs, "HorizontalPodAutoscaler"):
                if d["spec"]["minReplicas"] < 2:
                    fail(f"chart prod: {d['metadata']['name']} must keep at least 2 replicas")
            pdbs = [p for p in by_kind(docs, "PodDisruptionBudget")
                    if service_of(p) or is_web(p)]
            if len(pdbs) != len(SERVICES) + 1 or any(p["spec"].get("minAvailable") != 1 for p in pdbs):
                fail("chart prod: each service and the web client need a PDB keeping one pod")

    for env in ENVS:
        print(f"kustomize, pizza-{env}")
        docs = render_kustomize(env)
        if any(d["metadata"].get("namespace") != f"pizza-{env}" for d in docs if d["kind"] != "Namespace"):
            fail(f"kustomize {env}: every object must be in namespace pizza-{env}")
        n = check_deployments(f"kustomize {env}", docs, env_names)
        if n == 0:
            ok(f"kustomize {env}: probes, ports, env, secrets, egress, security and grace period match the binaries")
        kube_validate(f"kustomize {env}", docs)

    print("chart, pizza-prod with the dashboards")
    monitoring_docs = render_chart("prod", {"monitoring": {"dashboards": {"enabled": True}}})
    before = len(failures)
    check_monitoring("chart prod+dashboards", monitoring_docs)
    kinds = {k: len(by_kind(monitoring_docs, k)) for k in ("ServiceMonitor", "PrometheusRule")}
    n_cms = len([c for c in by_kind(monitoring_docs, "ConfigMap") if "-dashboard-" in c["metadata"]["name"]])
    if kinds != {"ServiceMonitor": len(SERVICES), "PrometheusRule": 1} or n_cms == 0:
        fail(f"chart prod+dashboards: expected a ServiceMonitor per service, the PrometheusRule and the dashboards, "
             f"got {kinds} and {n_cms} dashboard ConfigMaps")
    if len(failures) == before:
        ok(f"chart prod+dashboards: job labels, ServiceMonitors, PrometheusRule and {n_cms} dashboard ConfigMaps")
    kube_validate("chart prod+dashboards", monitoring_docs)

    print("chart, pizza-prod with ci/secured-values.yaml (CloudNativePG, NATS NKeys + TLS, digests)")
    secured = yaml.safe_load((CHART / "ci" / "secured-values.yaml").read_text())
    secured_docs = render_chart("prod", secured)
    n = check_deployments("chart secured", secured_docs, env_names)
    before = len(failures)
    check_conventions("chart secured", secured_docs)
    check_secured(secured_docs)
    if n == 0 and len(failures) == before:
        ok("chart secured: credentials, TLS and NKeys from their Secrets, each service its own; digests, scheduling")
    kube_validate("chart secured", secured_docs)
    checkov("chart secured", secured_docs)
    check_strict_schema()

    print("self-test")
    self_test(dev_docs, env_names, monitoring_docs)
    self_test_secured(secured_docs, env_names)

    print()
    if failures:
        print(f"deploy checks: {len(failures)} failed")
        return 1
    print("deploy checks: all passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
