#!/usr/bin/env python3
"""`make bench-scale`: what each order endpoint costs as the orders pile up.

Starts the stack as `make bench` does (release build, one replica each, its own database
`pizza_scale`), makes a customer with 60 orders at gangnam (40 of them completed by a STAFF
member bound to gangnam) and an ADMIN, and measures the scenarios below with wrk at each size:
the ~60 orders of a fresh shop, then
1M, then 5M, grown in SQL between the rounds (the shape is in `grow`). Then the background
jobs: POST /order/ while the auto-cancel sweeps 20 000 stale PENDING orders and the retention
deletes 200 000 expired idempotency keys and 200 000 old outbox rows, against POST /order/
with nothing to do. Writes bench/results/scale-<time>.{json,md,svg} (p99 against data size).
Reports figures; never fails on them. BENCH_SCALE_SIZES=1000000,5000000 changes the sizes.
"""

import json
import math
import os
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run  # noqa: E402  (bench/run.py: the stack, wrk, the accounting)
from run import DURATION, PORTS, RESULTS, ROOT, TARGET, http, sh, wrk  # noqa: E402

DB = "pizza_scale"
run.DB = DB  # run.propagation reads the menu's outbox from the benchmark's database
SIZES = [int(s) for s in os.environ.get("BENCH_SCALE_SIZES", "1000000,5000000").split(",")]
CHUNK = 500_000


def psql(sql: str) -> str:
    return sh("psql", "-h", "127.0.0.1", "-U", "postgres", "-d", DB, "-v", "ON_ERROR_STOP=1",
              "-Atqc", sql)


def orders() -> int:
    return int(psql("SELECT count(*) FROM ordering.orders"))


def grow(total: int) -> float:
    """Adds history until there are `total` orders: 100 000 members, the five branches in
    turn, one order every ~6 s going back two years (95 % COMPLETED, 3 % CANCELLED, 2 %
    REJECTED: finished orders, as a real history is; the board's active orders are the ones
    the benchmark places), two lines and two status-history rows each. In chunks of 500 000,
    then VACUUM ANALYZE, as autovacuum would, and a CHECKPOINT. The seconds it took."""
    started = time.time()
    have = orders()
    while have < total:
        n = min(CHUNK, total - have)
        psql(f"""
          SET synchronous_commit = off;
          SET search_path = ordering;
          CREATE TEMP TABLE grown AS
          SELECT gen_random_uuid() AS order_id, 'scale_' || (g % 100000) AS member_id,
                 (ARRAY['gangnam', 'hongdae', 'jamsil', 'pangyo', 'haeundae'])[1 + g % 5] AS bran_id,
                 CASE WHEN g % 100 < 95 THEN 'COMPLETED' WHEN g % 100 < 98 THEN 'CANCELLED'
                      ELSE 'REJECTED' END AS status,
                 now() - interval '1 day' - make_interval(secs => g * 6) AS created_at
            FROM generate_series({have + 1}, {have + n}) g;
          INSERT INTO orders (order_id, member_id, bran_id, status, total_price, created_at, updated_at)
          SELECT order_id, member_id, bran_id, status, 47600, created_at, created_at FROM grown;
          INSERT INTO order_detail (order_id, line_no, pizza_id, pizza_nm, size, quantity, unit_price, line_total)
          SELECT order_id, 1, 'bbq_ckn_l', 'The Barbecue Chicken Pizza', 'L', 1, 29000, 29000 FROM grown
          UNION ALL
          SELECT order_id, 2, 'hawaiian_m', 'The Hawaiian Pizza', 'M', 1, 18600, 18600 FROM grown;
          INSERT INTO order_status_history (order_id, version, status, changed_by, changed_at)
          SELECT order_id, 1, 'PENDING', member_id, created_at FROM grown
          UNION ALL
          SELECT order_id, 2, status, 'staff_' || bran_id, created_at + interval '20 minutes' FROM grown;
        """)
        have += n
        print(f"bench-scale: {have:,} orders ({time.time() - started:.0f} s)", flush=True)
    for table in ("orders", "order_detail", "order_status_history"):
        psql(f"VACUUM ANALYZE ordering.{table}")  # one statement: VACUUM takes no transaction
    # The load's dirty pages go to disk now, not during the measurement: a shop that grew
    # over two years wrote them long ago.
    psql("CHECKPOINT")
    return round(time.time() - started, 1)


def scenarios(t: dict) -> dict:
    o = f"http://127.0.0.1:{PORTS['order']}"
    s = {}
    s["GET /order/myorder/"] = wrk(f"{o}/order/myorder/", "get.lua", 16, DURATION, {"TOKEN": t["customer"]})
    s["GET /order/{id}/"] = wrk(f"{o}/order/{t['order_id']}/", "get.lua", 16, DURATION, {"TOKEN": t["customer"]})
    s["GET /order/?status=PENDING (staff)"] = wrk(f"{o}/order/?status=PENDING", "get.lua", 16, DURATION,
                                                  {"TOKEN": t["staff"]})
    s["GET /order/ (staff, the board)"] = wrk(f"{o}/order/", "get.lua", 16, DURATION, {"TOKEN": t["staff"]})
    s["GET /order/?status=COMPLETED (staff)"] = wrk(f"{o}/order/?status=COMPLETED", "get.lua", 16, DURATION,
                                                    {"TOKEN": t["staff"]})
    s["POST /order/"] = wrk(f"{o}/order/", "order.lua", 16, DURATION, {"TOKEN": t["customer"]})
    return s


def jobs_effect(env: dict, t: dict) -> dict:
    """POST /order/ p99 with nothing to clean, then while the jobs clean a backlog (they run
    at a replica's start, then every period: the stack is restarted with the backlog in
    place and the load starts at once)."""
    o = f"http://127.0.0.1:{PORTS['order']}"
    quiet = wrk(f"{o}/order/", "order.lua", 16, DURATION, {"TOKEN": t["customer"]})
    psql("""
      SET search_path = ordering;
      INSERT INTO orders (order_id, member_id, bran_id, status, total_price, created_at, updated_at)
      SELECT gen_random_uuid(), 'stale_' || (g % 1000), 'jamsil', 'PENDING', 18600,
             now() - interval '1 hour', now() - interval '1 hour' FROM generate_series(1, 20000) g;
      INSERT INTO idempotency_key (member_id, idem_key, request_hash, state, created_at)
      SELECT 'old_' || (g % 1000), 'k' || g, '\\x00', 'DONE', now() - interval '25 hours'
        FROM generate_series(1, 200000) g;
      INSERT INTO outbox (id, subject, payload, created_at, published_at)
      SELECT gen_random_uuid(), 'order.bench', '{}', now() - interval '2 hours', now() - interval '2 hours'
        FROM generate_series(1, 200000);
      ANALYZE orders; ANALYZE idempotency_key; ANALYZE outbox;""")
    sh("bash", str(ROOT / "scripts" / "up.sh"), env=env, capture=False)
    busy = wrk(f"{o}/order/", "order.lua", 16, DURATION, {"TOKEN": t["customer"]})
    left = psql("SELECT (SELECT count(*) FROM ordering.orders WHERE member_id LIKE 'stale\\_%' AND status = 'PENDING'), "
                "(SELECT count(*) FROM ordering.idempotency_key WHERE member_id LIKE 'old\\_%'), "
                "(SELECT count(*) FROM ordering.outbox WHERE subject = 'order.bench')").split("|")
    return {"quiet": quiet, "while_jobs_run": busy,
            "left_after": {"stale_pending": int(left[0]), "old_keys": int(left[1]), "old_outbox": int(left[2])}}


def svg(sizes: list[int], rounds: dict) -> str:
    """p99 of each scenario against the number of orders (log x)."""
    w, h, x0, y0, pw, ph = 900, 460, 70, 400, 560, 340
    names = list(next(iter(rounds.values())))
    top = max(r[n]["p99_ms"] for r in rounds.values() for n in names) * 1.1
    xs = {s: x0 + pw * (math.log10(max(s, 10)) - 1) / (math.log10(max(sizes)) - 1) for s in sizes}
    colors = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948"]
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="11">',
           '<rect width="100%" height="100%" fill="white"/>',
           '<text x="20" y="24" font-size="14">p99 latency (ms) against orders in the database</text>',
           f'<line x1="{x0}" y1="{y0}" x2="{x0 + pw}" y2="{y0}" stroke="black"/>',
           f'<line x1="{x0}" y1="{y0}" x2="{x0}" y2="{y0 - ph}" stroke="black"/>',
           f'<text x="20" y="{y0 - ph + 4}">{top:.0f}</text>', f'<text x="50" y="{y0 + 4}">0</text>']
    for s, x in xs.items():
        out.append(f'<text x="{x - 14:.0f}" y="{y0 + 16}">{s:,}</text>')
    for i, name in enumerate(names):
        pts = " ".join(f"{xs[s]:.1f},{y0 - ph * rounds[s][name]['p99_ms'] / top:.1f}" for s in sizes)
        out.append(f'<polyline points="{pts}" fill="none" stroke="{colors[i % 6]}" stroke-width="2"/>')
        out.append(f'<text x="{x0 + pw + 10}" y="{y0 - ph + 16 * i}" fill="{colors[i % 6]}">{name}</text>')
    out.append("</svg>")
    return "\n".join(out)


def main() -> int:
    started = time.time()
    env = dict(os.environ, PROFILE="release", REPLICAS="1", DB_NAME=DB, LOG_LEVEL="warn",
               AUTH_RATE_LIMIT_BURST="1000000", AUTH_RATE_LIMIT_PERIOD="1ms", LOGIN_FAILURES_PER_HOUR="100",
               # The auto-cancel sweeps on its own period (a minute or more): the jobs' round
               # below restarts the stack so they run at once.
               ORDER_PENDING_TIMEOUT="15m")
    sh("bash", str(ROOT / "scripts" / "down.sh"), check=False)
    sh("bash", str(ROOT / "scripts" / "deps.sh"), "bench", capture=False)
    sh("psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-qc", f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")
    sh("bash", str(ROOT / "deploy" / "db" / "bootstrap.sh"),
       env=dict(os.environ, PGHOST="127.0.0.1", PGUSER="postgres", DB_NAME=DB))
    sh("bash", str(ROOT / "scripts" / "up.sh"), env=env, capture=False)
    time.sleep(2)

    lo = f"http://127.0.0.1:{PORTS['login']}"
    login = lambda m, p: http("POST", f"{lo}/login/", {"member_id": m, "member_pwd": p})[1]["token"]
    http("POST", f"{lo}/login/register/", {"member_id": "scale_customer", "member_pwd": "bench password 1", "member_nm": "c"})
    for who, role, extra in (("scale_staff", "STAFF", "--bran-id gangnam"), ("scale_admin", "ADMIN", "")):
        sh("bash", "-c", f"echo 'bench staff password' | DB_NAME={DB} {TARGET / 'pizza-login'} member create "
           f"--member-id {who} --member-nm {who} --role {role} {extra}")
    t = {"customer": login("scale_customer", "bench password 1"), "staff": login("scale_staff", "bench staff password"),
         "admin": login("scale_admin", "bench staff password")}
    # A fresh shop: 60 orders at gangnam, 40 of them taken to COMPLETED by its staff, so the
    # first round's board and history pages are full pages as they are later.
    o = f"http://127.0.0.1:{PORTS['order']}"
    for i in range(60):
        _, r = http("POST", f"{o}/order/", {"bran_id": "gangnam", "items": [{"pizza_id": "hawaiian_m", "quantity": 1}]},
                    t["customer"])
        if i < 40:
            for action, body in (("accept", {"estimated_time_minutes": 20}), ("ready", None), ("complete", None)):
                status, _ = http("POST", f"{o}/order/{r['order_id']}/{action}/", body, t["staff"])
                assert status == 200, f"{action}: {status}"
    t["order_id"] = r["order_id"]

    rounds, growth, prop = {}, {}, {}
    sizes = [orders()] + SIZES
    for i, size in enumerate(sizes):
        if i:
            growth[size] = grow(size)
        print(f"bench-scale: measuring at {orders():,} orders", flush=True)
        rounds[size] = scenarios(t)
        prop[size] = run.propagation(t["admin"], t["customer"], [f"http://127.0.0.1:{PORTS['order']}"], rounds=20)
    print("bench-scale: the background jobs' effect on POST /order/", flush=True)
    jobs = jobs_effect(env, t)
    sh("bash", str(ROOT / "scripts" / "down.sh"), check=False)

    first, last = sizes[0], sizes[-1]
    report = {
        "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": {"cores": os.cpu_count(), "load_generator": "wrk -c16 (same machine)"},
        "seconds_per_scenario": DURATION, "sizes": sizes, "grow_seconds": growth,
        "scenarios": {str(k): v for k, v in rounds.items()},
        "propagation_ms": {str(k): v for k, v in prop.items()}, "jobs": jobs,
        "p99_growth": {n: round(rounds[last][n]["p99_ms"] / max(rounds[first][n]["p99_ms"], 0.01), 2)
                       for n in rounds[first]},
        "took_seconds": round(time.time() - started),
    }
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    (RESULTS / f"scale-{stamp}.json").write_text(json.dumps(report, indent=2))
    (RESULTS / f"scale-{stamp}.svg").write_text(svg(sizes, rounds))
    head = " | ".join(f"{s:,} orders" for s in sizes)
    md = [f"# Scale benchmark {report['when']}", "",
          f"{os.cpu_count()} cores, wrk -t2 -c16 -d{DURATION}s on the same machine; RPS / p99 ms at each size; "
          f"growth = p99 at {last:,} ÷ p99 at {first:,} (target ≤ 1.5).", "",
          f"| scenario | {head} | growth |", "|---|" + "---|" * len(sizes) + "---|"]
    for n in rounds[first]:
        cells = " | ".join(f"{rounds[s][n]['rps']:,.0f} / {rounds[s][n]['p99_ms']:.1f}" +
                           (f" ({rounds[s][n]['errors']} errors)" if rounds[s][n]["errors"] else "") for s in sizes)
        md.append(f"| {n} | {cells} | {report['p99_growth'][n]:.2f} |")
    md += ["", "| price change → used by the order replica | " + " | ".join(
        f"p50 {prop[s]['p50_ms']} / p99 {prop[s]['p99_ms']} ms" for s in sizes) + " |",
        "", f"Growing took {growth} s (SQL, in chunks of {CHUNK:,}, then VACUUM ANALYZE and CHECKPOINT).", "",
        "POST /order/ while the jobs clean a backlog (20 000 stale PENDING orders to cancel, 200 000 expired "
        "idempotency keys and 200 000 old outbox rows to delete, in bounded batches):",
        "", "| | RPS | p50 ms | p99 ms | errors |", "|---|---|---|---|---|"]
    for k in ("quiet", "while_jobs_run"):
        r = jobs[k]
        md.append(f"| {k.replace('_', ' ')} | {r['rps']:,.0f} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} | {r['errors']} |")
    md += ["", f"Left after the load: {jobs['left_after']}.", "",
           f"Chart: scale-{stamp}.svg. Took {report['took_seconds']} s."]
    (RESULTS / f"scale-{stamp}.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))
    print(f"\nbench-scale: wrote bench/results/scale-{stamp}.json, .md, .svg")
    return 0


if __name__ == "__main__":
    sys.exit(main())
