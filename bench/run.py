#!/usr/bin/env python3
"""`make bench`: the platform's speed as ratios against its own ceilings, in one run.

Starts the stack (release build, one replica each, nginx) on its own database `pizza_bench`,
creates the users and tokens it needs, and measures each scenario for a bounded time on
loopback with wrk (Debian's; no build, and its Lua scripts give each request its own token,
body and Idempotency-Key). Baselines run in the same go, so ratios hold on a noisy machine:
the same process's `/livez`, pgbench doing exactly an order's writes, argon2id on every core.

Writes bench/results/<timestamp>.json, .md and .svg. Reports figures; never fails on them.
"""

import json
import os
import resource
import subprocess
import sys
import time
import urllib.request
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LUA = ROOT / "bench" / "lua"
RESULTS = ROOT / "bench" / "results"
DURATION = int(os.environ.get("BENCH_SECONDS", "8"))
SWEEP_SECONDS = int(os.environ.get("BENCH_SWEEP_SECONDS", "4"))
THINK_SECONDS = int(os.environ.get("BENCH_THINK_SECONDS", "15"))
DB = "pizza_bench"
PORTS = {"login": 8001, "menu": 8002, "order": 8003}
INGRESS = 8080
# Built by `make bench` with the same command as scripts/up.sh (same features, one build).
TARGET = Path(json.loads(subprocess.run(
    ["cargo", "metadata", "--format-version", "1", "--no-deps"], cwd=ROOT, check=True,
    capture_output=True, text=True).stdout)["target_directory"]) / "release"


def sh(*args, env=None, check=True, capture=True):
    return subprocess.run(args, env=env, check=check, text=True,
                          capture_output=capture).stdout


def http(method, url, body=None, token=None):
    req = urllib.request.Request(url, method=method)
    data = json.dumps(body).encode() if body is not None else None
    if data:
        req.add_header("content-type", "application/json")
    if token:
        req.add_header("authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, data, timeout=10) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, None


# --------------------------------------------------------------------------------------
# Process accounting (CPU seconds and peak RSS of each service)

def pids():
    """Replica 0 of each service, and nginx's workers (the ingress)."""
    out = {}
    for svc in PORTS:
        f = ROOT / ".run" / "pids" / f"{svc}-0.pid"
        out[svc] = [int(f.read_text())]
    master = int((ROOT / ".run" / "nginx" / "nginx.pid").read_text())
    out["ingress"], out["postgres"] = [], []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
            if int(text.rsplit(")", 1)[1].split()[1]) == master:
                out["ingress"].append(int(stat.parent.name))
            elif text.split("(", 1)[1].startswith("postgres)"):
                # The server and its backends (the pools' connections live for the run).
                out["postgres"].append(int(stat.parent.name))
        except (OSError, ValueError, IndexError):
            pass
    return out


def group_stats(pid_list):
    """CPU seconds, RSS and peak RSS (MiB) summed over processes (gone ones count 0)."""
    stats = []
    for p in pid_list:
        try:
            stats.append(proc_stats(p))
        except OSError:
            stats.append((0, 0, 0))
    return tuple(round(sum(x[i] for x in stats), 2) for i in range(3))


def children_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def proc_stats(pid):
    stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = (int(stat[11]) + int(stat[12])) / ticks
    status = Path(f"/proc/{pid}/status").read_text()
    mem = {l.split(":")[0]: int(l.split()[1]) for l in status.splitlines() if l.startswith(("VmRSS", "VmHWM"))}
    return cpu, mem.get("VmRSS", 0) / 1024, mem.get("VmHWM", 0) / 1024


def wrk(url, script, connections, seconds, env=None):
    threads = min(2, connections)
    e = dict(os.environ, BENCH_LUA=str(LUA), **(env or {}))
    procs = pids()
    before = {svc: group_stats(p) for svc, p in procs.items()}
    wrk_before = children_cpu()
    out = sh("wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "5s",
             "-s", str(LUA / script), url, env=e)
    after = {svc: group_stats(p) for svc, p in procs.items()}
    line = [l for l in out.splitlines() if l.startswith("{")][-1]
    r = json.loads(line)
    secs = r["duration_us"] / 1e6
    r["rps"] = round(r["requests"] / secs, 1)
    r["connections"] = connections
    r["cpu_seconds"] = {s: round(max(after[s][0] - before[s][0], 0), 2) for s in after}
    r["cpu_seconds"]["wrk"] = round(children_cpu() - wrk_before, 2)
    r["peak_rss_mib"] = {s: round(after[s][2], 1) for s in after}
    return r


# --------------------------------------------------------------------------------------
# Baselines

def pgbench(connections, seconds, script=None):
    env = dict(os.environ, PGHOST="127.0.0.1", PGUSER="order_svc", PGDATABASE=DB)
    out = sh("pgbench", "-n", "-c", str(connections), "-j", "2", "-T", str(seconds),
             "-f", str(script or ROOT / "bench" / "pgbench-order.sql"), env=env)
    tps = [l for l in out.splitlines() if l.startswith("tps")]
    lat = [l for l in out.splitlines() if l.startswith("latency average")]
    return {"tps": float(tps[0].split("=")[1].split()[0]),
            "latency_avg_ms": float(lat[0].split("=")[1].split()[0]) if lat else None,
            "connections": connections}


def write_ceiling(seconds):
    """The order writes' ceiling: pgbench of exactly those writes at its best client count
    (4, 8, 16, 32) while the services sit idle, with the outbox's pg_notify and without it
    (what waking the relay at commit costs)."""
    plain = ROOT / ".run" / "pgbench-order-no-notify.sql"
    plain.write_text("".join(l for l in (ROOT / "bench" / "pgbench-order.sql").read_text().splitlines(True)
                             if "pg_notify" not in l))
    out = {}
    for name, script in (("with pg_notify", None), ("without pg_notify", plain)):
        runs = {c: pgbench(c, seconds, script) for c in (4, 8, 16, 32)}
        best = max(runs.values(), key=lambda r: r["tps"])
        out[name] = {"best": best, "tps_by_clients": {c: round(r["tps"]) for c, r in runs.items()}}
    return out


def argon2_ceiling(seconds):
    out = sh(str(TARGET / "examples" / "argon2_ceiling"), str(seconds))
    return json.loads(out.strip().splitlines()[-1])


# --------------------------------------------------------------------------------------
# Event propagation: ADMIN price change → new price used by the order replica

def propagation(admin, token, orders, rounds=50):
    """Per change: the time until every order replica prices with the new price."""
    times = []
    price = 29000
    body = {"bran_id": "jamsil", "items": [{"pizza_id": "bbq_ckn_l", "quantity": 1}]}
    for i in range(rounds):
        price += 10
        status, _ = http("PATCH", f"http://127.0.0.1:{PORTS['menu']}/menu/pizzas/bbq_ckn_l/", {"price": price}, admin)
        assert status == 200, status
        changed = time.perf_counter()
        waiting = set(orders)
        while waiting:
            for o in sorted(waiting):
                _, r = http("POST", f"{o}/order/", body, token)
                if r and r["items"][0]["unit_price"] == price:
                    waiting.discard(o)
            if time.perf_counter() - changed > 5:
                break
        times.append((time.perf_counter() - changed) * 1000)
    times.sort()
    pick = lambda xs, q: round(xs[min(len(xs) - 1, int(q * len(xs)))], 1)
    # The first hop on its own, from the outbox's own timestamps: transaction start of the
    # change → JetStream's ack to the relay (marked published after the ack).
    out = sh("psql", "-h", "127.0.0.1", "-U", "postgres", "-d", DB, "-Atc",
             "SELECT extract(epoch FROM published_at - created_at) * 1000 FROM menu.outbox "
             f"WHERE subject = 'catalog.updated' ORDER BY seq DESC LIMIT {rounds}")
    relay = sorted(float(x) for x in out.split())
    return {"rounds": rounds, "replicas": len(orders), "p50_ms": pick(times, 0.5), "p95_ms": pick(times, 0.95),
            "p99_ms": pick(times, 0.99), "max_ms": round(times[-1], 1),
            "relay_p50_ms": pick(relay, 0.5), "relay_p99_ms": pick(relay, 0.99)}


# --------------------------------------------------------------------------------------
# Report

def svg_chart(scenarios, sweep):
    """Latency percentiles per scenario (bars) and RPS vs connections (lines), plain SVG."""
    w, h = 900, 620
    import math

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="11">',
           '<rect width="100%" height="100%" fill="white"/>',
           '<text x="20" y="20" font-size="14">Latency per scenario (ms, log scale; p50 / p95 / p99)</text>']
    names = list(scenarios)
    # Log scale from 0.1 ms: sub-millisecond reads and 100 ms logins on one chart.
    top = math.log10(max(max(s["p99_ms"] for s in scenarios.values()), 1) / 0.1)
    scale = lambda v: 560 * max(math.log10(max(v, 0.1) / 0.1), 0) / top
    colors = ["#4e79a7", "#f28e2b", "#e15759"]
    for i, name in enumerate(names):
        y = 40 + i * 26
        out.append(f'<text x="20" y="{y + 14}">{name}</text>')
        for j, key in enumerate(("p50_ms", "p95_ms", "p99_ms")):
            v = scenarios[name][key]
            bw = max(1, scale(v))
            out.append(f'<rect x="250" y="{y + j * 7}" width="{bw:.1f}" height="6" fill="{colors[j]}"/>')
        out.append(f'<text x="{255 + scale(scenarios[name]["p99_ms"]):.0f}" y="{y + 20}">{scenarios[name]["p99_ms"]:.1f}</text>')
    base = 60 + len(names) * 26
    out.append(f'<text x="20" y="{base}" font-size="14">RPS vs connections</text>')
    cons = sorted({c for s in sweep.values() for c in s})
    top_rps = max(max(s.values()) for s in sweep.values())
    x0, y0, pw, ph = 80, base + 200, 700, 170
    out.append(f'<line x1="{x0}" y1="{y0}" x2="{x0 + pw}" y2="{y0}" stroke="black"/>')
    out.append(f'<line x1="{x0}" y1="{y0}" x2="{x0}" y2="{y0 - ph}" stroke="black"/>')
    for k, c in enumerate(cons):
        x = x0 + pw * k / max(1, len(cons) - 1)
        out.append(f'<text x="{x - 8:.0f}" y="{y0 + 14}">{c}</text>')
    out.append(f'<text x="10" y="{y0 - ph + 4}">{top_rps:.0f}</text>')
    for idx, (name, series) in enumerate(sweep.items()):
        pts = []
        for k, c in enumerate(cons):
            if c in series:
                x = x0 + pw * k / max(1, len(cons) - 1)
                y = y0 - ph * series[c] / top_rps
                pts.append(f"{x:.1f},{y:.1f}")
        out.append(f'<polyline points="{" ".join(pts)}" fill="none" stroke="{colors[idx]}" stroke-width="2"/>')
        out.append(f'<text x="{x0 + pw + 5}" y="{y0 - ph + 14 * idx}" fill="{colors[idx]}">{name}</text>')
    out.append("</svg>")
    return "\n".join(out)


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--chart":
        # Redraw the chart of an earlier run: bench/run.py --chart bench/results/<time>.json
        r = json.loads(Path(sys.argv[2]).read_text())
        sweep = {k: {int(c): v for c, v in d.items()} for k, d in r["sweep_rps"].items()}
        Path(sys.argv[2]).with_suffix(".svg").write_text(svg_chart(r["scenarios"], sweep))
        return 0
    started = time.time()
    env = dict(os.environ, PROFILE="release", REPLICAS="1", DB_NAME=DB, LOG_LEVEL="warn",
               # One load generator stands for many clients: lift the per-address limits
               # rather than fake addresses (the limits themselves are tested elsewhere).
               AUTH_RATE_LIMIT_BURST="1000000", AUTH_RATE_LIMIT_PERIOD="1ms",
               LOGIN_FAILURES_PER_HOUR="100")
    sh("bash", str(ROOT / "scripts" / "down.sh"), check=False)
    sh("bash", str(ROOT / "scripts" / "deps.sh"), "bench", capture=False)
    # A fresh database of its own each run.
    sh("psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-qc",
       f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")
    sh("bash", str(ROOT / "deploy" / "db" / "bootstrap.sh"),
       env=dict(os.environ, PGHOST="127.0.0.1", PGUSER="postgres", DB_NAME=DB))
    sh("bash", str(ROOT / "scripts" / "up.sh"), env=env, capture=False)
    time.sleep(2)
    idle = {svc: round(proc_stats(p[0])[1], 1) for svc, p in pids().items() if svc in PORTS}
    print("bench: the order writes' ceiling (pgbench, services idle)", flush=True)
    ceiling = write_ceiling(max(4, DURATION // 2))

    login = lambda m, p: http("POST", f"http://127.0.0.1:{PORTS['login']}/login/", {"member_id": m, "member_pwd": p})[1]["token"]
    http("POST", f"http://127.0.0.1:{PORTS['login']}/login/register/",
         {"member_id": "bench_customer", "member_pwd": "bench password 1", "member_nm": "bench"})
    token = login("bench_customer", "bench password 1")
    sh("bash", "-c", f"echo 'bench admin password' | DB_NAME={DB} {TARGET / 'pizza-login'} member create "
       "--member-id bench_admin --member-nm admin --role ADMIN", check=False)
    admin = login("bench_admin", "bench admin password")
    http("POST", f"http://127.0.0.1:{PORTS['login']}/login/register/",
         {"member_id": "bench_history", "member_pwd": "bench password 1", "member_nm": "history"})
    history = login("bench_history", "bench password 1")
    for _ in range(20):
        http("POST", f"http://127.0.0.1:{PORTS['order']}/order/",
             {"bran_id": "pangyo", "items": [{"pizza_id": "hawaiian_m", "quantity": 1}]}, history)

    m, o, l, ing = (f"http://127.0.0.1:{PORTS['menu']}", f"http://127.0.0.1:{PORTS['order']}",
                    f"http://127.0.0.1:{PORTS['login']}", f"http://127.0.0.1:{INGRESS}")
    s = {}
    print("bench: baselines and scenarios", flush=True)
    gz = {"ACCEPT_ENCODING": "gzip, deflate, br"}  # what every browser sends
    s["menu /livez (baseline)"] = wrk(f"{m}/livez", "get.lua", 32, DURATION)
    s["GET /menu/ (gzip)"] = wrk(f"{m}/menu/", "get.lua", 32, DURATION, gz)
    s["GET /menu/ (identity)"] = wrk(f"{m}/menu/", "get.lua", 32, DURATION)
    s["GET /menu/ (gzip) via ingress"] = wrk(f"{ing}/menu/", "get.lua", 32, DURATION, gz)
    s["GET /menu/types/ (gzip)"] = wrk(f"{m}/menu/types/", "get.lua", 32, DURATION, gz)
    # Each ceiling runs right before the scenario it bounds, so both see the same machine.
    base = {"argon2id verify, all cores": argon2_ceiling(DURATION)}
    s["POST /login/"] = wrk(f"{l}/login/", "login.lua", 8, DURATION,
                            {"MEMBER_ID": "bench_customer", "MEMBER_PWD": "bench password 1"})
    s["order /livez (baseline)"] = wrk(f"{o}/livez", "get.lua", 32, DURATION)
    base["pgbench (order writes, 32 clients)"] = pgbench(32, DURATION)
    s["POST /order/"] = wrk(f"{o}/order/", "order.lua", 32, DURATION, {"TOKEN": token})
    # One branch alone: its order numbers make its orders commit one after another.
    s["POST /order/ (one branch)"] = wrk(f"{o}/order/", "order.lua", 32, DURATION,
                                         {"TOKEN": token, "BRANCHES": "gangnam"})
    s["GET /order/myorder/ (20 orders)"] = wrk(f"{o}/order/myorder/", "get.lua", 32, DURATION, {"TOKEN": history})
    s["mixed, 100 users, no think time, via ingress"] = wrk(ing, "mixed.lua", 100, DURATION, {"TOKEN": token})
    s["mixed, 100 users, think 0.1-1 s, via ingress"] = wrk(ing, "mixed.lua", 100, THINK_SECONDS,
                                                          {"TOKEN": token, "THINK_MS": "100,1000"})
    sweep = {"GET /menu/ (gzip)": {}, "POST /order/": {}}
    for c in (1, 8, 32, 100, 256):
        sweep["GET /menu/ (gzip)"][c] = wrk(f"{m}/menu/", "get.lua", c, SWEEP_SECONDS, gz)["rps"]
        sweep["POST /order/"][c] = wrk(f"{o}/order/", "order.lua", c, SWEEP_SECONDS, {"TOKEN": token})["rps"]
    # Propagation is about every replica: two of each, as the e2e suite runs them.
    print("bench: price-change propagation with two replicas of each service", flush=True)
    sh("bash", str(ROOT / "scripts" / "up.sh"), env=dict(env, REPLICAS="2"), capture=False)
    prop = propagation(admin, token, [o, f"http://127.0.0.1:{PORTS['order'] + 10}"])
    sh("bash", str(ROOT / "scripts" / "down.sh"), check=False)

    menu, livez = s["GET /menu/ (gzip)"]["rps"], s["menu /livez (baseline)"]["rps"]
    ratios = {
        "GET /menu/ (gzip) ÷ /livez": menu / livez,
        "GET /menu/ (identity) ÷ /livez": s["GET /menu/ (identity)"]["rps"] / livez,
        "POST /order/ ÷ pgbench TPS": s["POST /order/"]["rps"] / base["pgbench (order writes, 32 clients)"]["tps"],
        "POST /order/ ÷ write ceiling (best clients, idle)": s["POST /order/"]["rps"] / ceiling["with pg_notify"]["best"]["tps"],
        "pg_notify's cost of the write ceiling": 1 - ceiling["with pg_notify"]["best"]["tps"] / ceiling["without pg_notify"]["best"]["tps"],
        "POST /login/ ÷ argon2 ceiling": s["POST /login/"]["rps"] / base["argon2id verify, all cores"]["per_second"],
        "ingress overhead on GET /menu/ (gzip)": 1 - s["GET /menu/ (gzip) via ingress"]["rps"] / menu,
    }
    think = s["mixed, 100 users, think 0.1-1 s, via ingress"]["p99_ms"]
    sat = s["mixed, 100 users, no think time, via ingress"]["p99_ms"]
    targets = [  # (target, figure, met)
        ("GET /menu/ ≥ 0.8× /livez", f"{ratios['GET /menu/ (gzip) ÷ /livez']:.2f}", ratios["GET /menu/ (gzip) ÷ /livez"] >= 0.8),
        ("POST /order/ ≥ 0.6× the write ceiling", f"{ratios['POST /order/ ÷ write ceiling (best clients, idle)']:.2f}",
         ratios["POST /order/ ÷ write ceiling (best clients, idle)"] >= 0.6),
        ("login ≥ 0.9× argon2 ceiling", f"{ratios['POST /login/ ÷ argon2 ceiling']:.2f}", ratios["POST /login/ ÷ argon2 ceiling"] >= 0.9),
        ("mixed p99 < 25 ms at 100 users (think time)", f"{think:.1f} ms", think < 25),
        ("mixed p99 < 25 ms at 100 users (no think time)", f"{sat:.1f} ms", sat < 25),
        ("ingress overhead ≤ 15%", f"{ratios['ingress overhead on GET /menu/ (gzip)'] * 100:.0f}%",
         ratios["ingress overhead on GET /menu/ (gzip)"] <= 0.15),
        ("idle RSS ≤ 30 MiB per service", f"{max(idle.values()):.1f} MiB max", max(idle.values()) <= 30),
        ("price change on every order replica ≤ 50 ms p99", f"{prop['p99_ms']} ms", prop["p99_ms"] <= 50),
    ]
    report = {
        "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": {"cores": os.cpu_count(), "load_generator": "wrk (same machine)"},
        "seconds_per_scenario": DURATION, "scenarios": s, "baselines": base, "sweep_rps": sweep,
        "propagation_price_change_to_order_ms": prop, "idle_rss_mib": idle, "write_ceiling": ceiling,
        "ratios": {k: round(v, 3) for k, v in ratios.items()},
        "targets": [{"target": t, "figure": f, "met": m} for t, f, m in targets],
        "took_seconds": round(time.time() - started),
    }
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    (RESULTS / f"{stamp}.json").write_text(json.dumps(report, indent=2))
    (RESULTS / f"{stamp}.svg").write_text(svg_chart(s, sweep))
    md = [f"# Benchmark {report['when']}", "",
          f"{os.cpu_count()} cores, load generator on the same machine (wrk); {DURATION} s per scenario "
          f"({os.cpu_count() * DURATION} CPU seconds available in each).", "",
          "| scenario | conns | RPS | p50 ms | p95 ms | p99 ms | errors | CPU s (login/menu/order/nginx/postgres/wrk) | peak RSS MiB (l/m/o) |",
          "|---|---|---|---|---|---|---|---|---|"]
    for name, r in s.items():
        cpu = "/".join(str(r["cpu_seconds"][x]) for x in ("login", "menu", "order", "ingress", "postgres", "wrk"))
        rss = "/".join(str(r["peak_rss_mib"][x]) for x in ("login", "menu", "order"))
        md.append(f"| {name} | {r['connections']} | {r['rps']} | {r['p50_ms']:.2f} | {r['p95_ms']:.2f} | "
                  f"{r['p99_ms']:.2f} | {r['errors']} | {cpu} | {rss} |")
    md += ["", "| baseline | figure |", "|---|---|",
           f"| pgbench, an order's writes, 32 clients | {base['pgbench (order writes, 32 clients)']['tps']:.0f} TPS |",
           *[f"| pgbench, an order's writes {k}, best of 4/8/16/32 clients, services idle | "
             f"{v['best']['tps']:.0f} TPS at {v['best']['connections']} ({v['tps_by_clients']}) |" for k, v in ceiling.items()],
           f"| argon2id verify on {base['argon2id verify, all cores']['threads']} threads | {base['argon2id verify, all cores']['per_second']:.1f}/s |",
           "", "| ratio | value |", "|---|---|"]
    md += [f"| {k} | {v:.2f} |" for k, v in ratios.items()]
    md += ["", "| target | figure | met |", "|---|---|---|"]
    md += [f"| {t} | {f} | {'yes' if m else '**no**'} |" for t, f, m in targets]
    md += ["", f"Price change → used by all {prop['replicas']} order replicas: p50 {prop['p50_ms']} ms, "
           f"p95 {prop['p95_ms']} ms, p99 {prop['p99_ms']} ms, max {prop['max_ms']} ms over {prop['rounds']} changes (target p99 ≤ 50 ms); "
           f"of that, the change's transaction start → JetStream's ack to the outbox relay: p50 {prop['relay_p50_ms']} ms, p99 {prop['relay_p99_ms']} ms.",
           f"Idle RSS (MiB): {idle} (target ≤ 30 each).", "",
           "RPS vs connections: " + json.dumps(sweep), "", f"Chart: {stamp}.svg. Took {report['took_seconds']} s."]
    (RESULTS / f"{stamp}.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))
    print(f"\nbench: wrote bench/results/{stamp}.json, .md, .svg")


if __name__ == "__main__":
    sys.exit(main())
