#!/usr/bin/env python3
"""Deployment rehearsal: each Deployment of the chart, run the way the kubelet would run it.

For login, menu, order and payment: take the rendered Deployment (values-dev.yaml), run its
migration Job's command, then its container's args with exactly its environment (ConfigMap,
env, Secret values), only service host names mapped to loopback and listening ports moved to
free ones. payment's TOSS_API_URL goes to a closed loopback port: the service starts without
the provider (it calls it only on demand), but the rehearsal shares NATS with whatever else
runs here, and a work queue may hand it a refund to make; refused, the event is retried
elsewhere. Its keys are the dev Secret's test keys. Then, as the kubelet does on a rollout:

  readiness probe passes → a request is in flight → preStop sleep → SIGTERM →
  readiness must fail at once, the request must complete, and the process must exit 0
  within the grace period.

For the web client: its ConfigMaps' nginx.conf and files, run by the local nginx with the
Deployment's command and args (only the listening port, the file root and /tmp moved into a
temporary folder); the probe path, the page, a module script's type and a missing file's
JSON 404.

Usage: rehearse.py BIN_DIR
"""

import hashlib
import hmac
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).parent))
import check  # noqa: E402  (render_chart, by_kind)

ORDER = ["login", "menu", "order", "payment"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(method: str, port: int, path: str, body=None, token=None, timeout=5):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method)
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        req.add_header("content-type", "application/json")
    if token:
        req.add_header("authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, data, timeout=timeout) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, None
    except OSError:
        return 0, None


def resolve_env(container: dict, configmaps: dict, secrets: dict) -> dict:
    env = {}
    for ef in container.get("envFrom", []):
        env.update(configmaps[ef["configMapRef"]["name"]])
    for e in container.get("env", []):
        if "value" in e:
            env[e["name"]] = str(e["value"])
        elif "secretKeyRef" in e.get("valueFrom", {}):
            ref = e["valueFrom"]["secretKeyRef"]
            value = secrets.get(ref["name"], {}).get(ref["key"])
            if value is None:
                if ref.get("optional"):
                    continue
                raise SystemExit(f"secret {ref} not found")
            env[e["name"]] = value
    return env


def to_loopback(env: dict, ports: dict) -> dict:
    """Service host names → loopback; listening ports → the free ones chosen here."""
    out = dict(env)
    out["DB_HOST"] = "127.0.0.1"
    out["NATS_URL"] = "nats://127.0.0.1:4222"
    for svc in ("login", "menu"):
        key = f"{svc.upper()}_GRPC_URL"
        if key in out and svc in ports:
            out[key] = f"http://127.0.0.1:{ports[svc]['grpc']}"
    if "TOSS_API_URL" in out:
        out["TOSS_API_URL"] = f"http://127.0.0.1:{free_port()}"  # nothing listens: never the provider
    return out


def slow_request(port: int, path: str, body: dict, token=None, sign_with=None) -> tuple[socket.socket, bytes]:
    """Sends the headers and half of the body; returns the socket and the rest. sign_with: the
    key of an X-Signature (HMAC-SHA256 of the body, as the deposit notifications carry)."""
    raw = json.dumps(body).encode()
    head = (
        f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(raw)}\r\nConnection: close\r\n"
        + (f"Authorization: Bearer {token}\r\n" if token else "")
        + (f"X-Signature: {hmac.new(sign_with.encode(), raw, hashlib.sha256).hexdigest()}\r\n" if sign_with else "")
        + "\r\n"
    ).encode()
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(head + raw[: len(raw) // 2])
    return s, raw[len(raw) // 2 :]


def main() -> int:
    bin_dir = Path(sys.argv[1])
    docs = check.render_chart("dev")
    configmaps = {d["metadata"]["name"]: d.get("data", {}) for d in check.by_kind(docs, "ConfigMap")}
    secrets = {d["metadata"]["name"]: d.get("stringData", {}) for d in check.by_kind(docs, "Secret")}
    deployments = {check.service_of(d): d for d in check.by_kind(docs, "Deployment") if check.service_of(d)}
    jobs = {check.service_of(d): d for d in check.by_kind(docs, "Job") if check.service_of(d)}
    failures = []
    procs, ports, logs, envs = {}, {}, {}, {}
    try:
        for svc in ORDER:
            ports[svc] = {"http": free_port(), "grpc": free_port()}
            dep = deployments[svc]
            spec = dep["spec"]["template"]["spec"]
            c = spec["containers"][0]
            # The migration hook first, as Helm would run it.
            jc = jobs[svc]["spec"]["template"]["spec"]["containers"][0]
            jenv = to_loopback(resolve_env(jc, configmaps, secrets), ports)
            r = subprocess.run([str(bin_dir / f"pizza-{svc}"), *jc["args"]], env=jenv, capture_output=True, text=True)
            if r.returncode != 0:
                failures.append(f"{svc}: migrate Job failed: {r.stderr[-500:]}")
                continue
            env = envs[svc] = to_loopback(resolve_env(c, configmaps, secrets), ports)
            env["HTTP_ADDR"] = f"127.0.0.1:{ports[svc]['http']}"
            if "GRPC_ADDR" in env:
                env["GRPC_ADDR"] = f"127.0.0.1:{ports[svc]['grpc']}"
            logs[svc] = open(f"/tmp/rehearse-{svc}.log", "w")
            procs[svc] = subprocess.Popen([str(bin_dir / f"pizza-{svc}"), *c["args"]], env=env, stdout=logs[svc], stderr=subprocess.STDOUT)
            probe = c["readinessProbe"]
            budget = c["startupProbe"]["periodSeconds"] * c["startupProbe"]["failureThreshold"]
            deadline = time.time() + budget
            while http("GET", ports[svc]["http"], probe["httpGet"]["path"])[0] != 200:
                if time.time() > deadline:
                    failures.append(f"{svc}: readiness probe {probe['httpGet']['path']} never passed")
                    break
                time.sleep(0.2)
            else:
                print(f"  ok   {svc}: ready on its readiness probe with the Deployment's env")

        if failures:
            raise RuntimeError

        # Requests in flight on each service.
        who = {"member_id": "rehearsal_user", "member_pwd": "rehearsal password", "member_nm": "r"}
        http("POST", ports["login"]["http"], "/login/register/", who)
        _, login = http("POST", ports["login"]["http"], "/login/", {"member_id": who["member_id"], "member_pwd": who["member_pwd"]})
        token = (login or {}).get("token")
        inflight = {
            "login": slow_request(ports["login"]["http"], "/login/register/",
                                  {"member_id": f"inflight_{int(time.time())}", "member_pwd": "in flight pw", "member_nm": "x"}),
            "menu": slow_request(ports["menu"]["http"], "/menu/get_pizza_id/", {"pizza_nm": "The Hawaiian Pizza", "size": "M"}),
            "order": slow_request(ports["order"]["http"], "/order/",
                                  {"bran_id": "gangnam", "items": [{"pizza_id": "hawaiian_m", "quantity": 1}]}, token),
            # A signed deposit notification that matches no order: recorded for staff (200).
            "payment": slow_request(ports["payment"]["http"], "/payment/webhooks/deposit/",
                                    {"tx_id": f"rehearsal-{time.time_ns()}", "payer_name": "rehearsal",
                                     "amount": 1, "deposited_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())},
                                    sign_with=envs["payment"].get("DEPOSIT_WEBHOOK_SECRET")),
        }
        time.sleep(0.3)

        # The kubelet: preStop sleep (still serving), then SIGTERM.
        spec = deployments["login"]["spec"]["template"]["spec"]
        pre = spec["containers"][0]["lifecycle"]["preStop"]["sleep"]["seconds"]
        grace = spec["terminationGracePeriodSeconds"]
        time.sleep(pre)
        stopped_at = time.time()
        for p in procs.values():
            p.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        for svc in ORDER:
            status = http("GET", ports[svc]["http"], "/healthz")[0]
            if status != 503:
                failures.append(f"{svc}: readiness answered {status} during the drain, not 503")
            else:
                print(f"  ok   {svc}: readiness fails at once after SIGTERM")
        want = {"login": "201", "menu": "200", "order": "201", "payment": "200"}
        for svc, (sock, rest) in inflight.items():
            sock.sendall(rest)
            sock.settimeout(10)
            answer = b""
            while chunk := sock.recv(65536):
                answer += chunk
            line = answer.split(b"\r\n", 1)[0].decode(errors="replace")
            if not line.startswith(f"HTTP/1.1 {want[svc]}"):
                failures.append(f"{svc}: the request in flight got {line!r}")
            else:
                print(f"  ok   {svc}: the request in flight completed ({line})")
        for svc, p in procs.items():
            left = grace - pre - (time.time() - stopped_at)
            try:
                code = p.wait(timeout=max(left, 0.1))
                took = time.time() - stopped_at
                if code != 0:
                    failures.append(f"{svc}: exited {code}, not 0")
                else:
                    print(f"  ok   {svc}: exited 0 {took:.1f}s after SIGTERM (grace {grace}s, preStop {pre}s)")
            except subprocess.TimeoutExpired:
                failures.append(f"{svc}: still running past the grace period")
    except RuntimeError:
        pass
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.kill()
    failures += rehearse_web(docs, configmaps)
    for f in failures:
        print(f"  FAIL {f}")
    print(f"rehearsal: {'all passed' if not failures else f'{len(failures)} failed'}")
    return 1 if failures else 0


def rehearse_web(docs: list[dict], configmaps: dict) -> list[str]:
    import shutil
    import tempfile

    webs = [d for d in check.by_kind(docs, "Deployment") if check.is_web(d)]
    if not webs:
        return ["web: no Deployment rendered"]
    spec = webs[0]["spec"]["template"]["spec"]
    c = spec["containers"][0]
    files, nginx_conf = check.web_configmaps(spec, configmaps)
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(nginx).exists():
        return ["web: nginx is not installed (scripts/deps.sh installs it)"]
    failures = []
    with tempfile.TemporaryDirectory() as tmp:
        os.chmod(tmp, 0o755)  # workers may run as nobody when we are root
        root = Path(tmp, "srv")
        root.mkdir()
        for name, text in files.items():
            (root / name).write_text(text)
        port = free_port()
        conf = (nginx_conf.replace("/tmp/", f"{tmp}/")
                .replace("listen 8080;", f"listen 127.0.0.1:{port};").replace("/srv/web", str(root)))
        Path(tmp, "nginx.conf").write_text(conf)
        args = [a.replace("/etc/pizza-web/nginx.conf", f"{tmp}/nginx.conf") for a in c["args"]]
        p = subprocess.Popen([nginx if c["command"] == ["nginx"] else c["command"][0], *args],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        def get(path: str):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
                    return r.status, r.headers
            except urllib.error.HTTPError as e:
                return e.code, e.headers
            except OSError:
                return 0, {}

        try:
            probe = c["readinessProbe"]["httpGet"]["path"]
            for _ in range(50):
                if get(probe)[0] == 200:
                    break
                time.sleep(0.1)
            else:
                return [f"web: no answer on the readiness probe {probe}: {p.stderr.read() if p.poll() is not None else ''}"]
            checks = [("/", 200, "text/html"), ("/app.js", 200, "text/javascript"),
                      ("/no-such-file", 404, "application/json")]
            for path, status, ctype in checks:
                got, headers = get(path)
                if got != status or (ctype and headers.get("content-type") != ctype):
                    failures.append(f"web: GET {path} answered {got} {headers.get('content-type')}")
                elif path == "/" and "default-src 'self'" not in headers.get("content-security-policy", ""):
                    failures.append("web: GET / without the Content-Security-Policy")
            if not failures:
                print(f"  ok   web: nginx with the chart's config serves the client, probe {probe} answers")
        finally:
            p.terminate()
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
    return failures


if __name__ == "__main__":
    sys.exit(main())
