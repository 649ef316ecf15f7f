#!/usr/bin/env python3
"""Proves the platform's alerts and dashboards offline, with promtool (Python 3.11, stdlib only).

- the alert rules (helm/pizza/files/prometheus/alerts.yaml): every alert has its runbook_url
  (__RUNBOOK_BASE__/<alert>.md) and its runbook (docs/runbooks/<alert>.md), no Helm templating;
  `promtool check rules` and `promtool test rules` (deploy/observability/alerts.test.yaml) on
  copies in a temporary directory with __RUNBOOK_BASE__ replaced by TEST_RUNBOOK_BASE; every
  alert has a firing and a quiet test case;
- docker-compose's Prometheus configuration (deploy/observability/prometheus.yaml) with those
  rules: `promtool check config`;
- the Grafana dashboards (helm/pizza/files/dashboards/*.json): uid, title, the ${datasource}
  variable; every panel target's expression (Grafana's variables replaced: $__rate_interval by
  5m, $namespace, $instance … by .*) written as a recording rule and parsed by
  `promtool check rules`, a failure naming the dashboard and the panel;
- with --metrics DIR: every metric name our alerts (not kube-state-metrics' kube_*) and the
  dashboards use is exposed. DIR holds *.prom files, each the Prometheus text exposition of one
  replica's GET /metrics (curl -s 127.0.0.1:8001/metrics > DIR/login.prom). A file named after
  a job (login.prom, login-1.prom, login_0.prom) also proves that what an expression selects with
  job="login" is in login's exposition. A family declared by # TYPE without samples counts as
  exposed (a labelled counter nobody has incremented yet);
- and a self-test: deliberately broken copies (a rule that does not parse, a test expecting
  another runbook, an alert without runbook or tests, a dashboard expression that does not
  parse, a hard-coded datasource, an exposition lacking a metric) must make these checks fail.

promtool: $PROMTOOL, else on PATH (scripts/deps.sh observe installs Debian's prometheus).

Usage: observability.py [--metrics DIR]
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "helm" / "pizza" / "files" / "prometheus" / "alerts.yaml"
RULE_TESTS = ROOT / "deploy" / "observability" / "alerts.test.yaml"
COMPOSE_PROMETHEUS = ROOT / "deploy" / "observability" / "prometheus.yaml"
DASHBOARDS = ROOT / "helm" / "pizza" / "files" / "dashboards"
RUNBOOKS = ROOT / "docs" / "runbooks"
PLACEHOLDER = "__RUNBOOK_BASE__"
# What __RUNBOOK_BASE__ reads in the unit tests (deploy/observability/alerts.test.yaml).
TEST_RUNBOOK_BASE = "https://runbooks.test"
JOBS = ("login", "menu", "order", "payment")
# Grafana's variables in dashboard expressions: intervals become durations, the rest .*
# (all of them are used as regular expressions or inside strings).
GRAFANA_DURATIONS = {"__rate_interval": "5m", "__interval": "1m", "__range": "1h", "__range_s": "3600",
                     "__range_ms": "3600000", "__interval_ms": "60000"}

failures: list[str] = []


def fail(msg: str) -> None:
    failures.append(msg)
    print(f"  FAIL {msg}")


def ok(msg: str) -> None:
    print(f"  ok   {msg}")


# --------------------------------------------------------------------------------------
# A YAML subset, enough for rule and rule-test files: block mappings and sequences, literal
# and folded block scalars, quoted and plain scalars, one-line flow collections. Anything else
# is an error, never a silent misreading.


class YamlError(ValueError):
    pass


def _strip_comment(line: str) -> str:
    quote = None
    for i, ch in enumerate(line):
        if quote:
            if ch == quote:
                quote = None
        elif ch in "'\"" and (i == 0 or line[i - 1] in " \t[{,:-"):
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1] in " \t"):
            return line[:i].rstrip()
    return line.rstrip()


def _unquote(s: str, where: str):
    s = s.strip()
    if not s:
        return None
    if s[0] == '"':
        if len(s) < 2 or s[-1] != '"':
            raise YamlError(f"{where}: unterminated string {s!r}")
        try:
            return json.loads(s)
        except json.JSONDecodeError as e:
            raise YamlError(f"{where}: unsupported escape in {s!r}: {e}") from None
    if s[0] == "'":
        if len(s) < 2 or s[-1] != "'":
            raise YamlError(f"{where}: unterminated string {s!r}")
        return s[1:-1].replace("''", "'")
    if s[0] in "[{":
        value, end = _flow(s, 0, where)
        if s[end:].strip():
            raise YamlError(f"{where}: trailing text after {s[:end]!r}")
        return value
    if s[0] in "&*!|>%@`":
        raise YamlError(f"{where}: unsupported YAML {s!r}")
    return s


def _flow(s: str, i: int, where: str):
    """A flow collection or scalar starting at s[i]; returns (value, index after it)."""
    while i < len(s) and s[i] == " ":
        i += 1
    if i >= len(s):
        raise YamlError(f"{where}: unterminated flow collection")
    if s[i] in "[{":
        close, items, mapping = ("]" if s[i] == "[" else "}"), [], {}
        i += 1
        while True:
            while i < len(s) and s[i] in " ,":
                i += 1
            if i < len(s) and s[i] == close:
                return (items if close == "]" else mapping), i + 1
            if close == "]":
                v, i = _flow(s, i, where)
                items.append(v)
            else:
                k, i = _flow_scalar(s, i, where, key=True)
                if i >= len(s) or s[i] != ":":
                    raise YamlError(f"{where}: expected ':' in flow mapping {s!r}")
                v, i = _flow(s, i + 1, where)
                mapping[k] = v
            while i < len(s) and s[i] == " ":
                i += 1
            if i < len(s) and s[i] not in ","+close:
                raise YamlError(f"{where}: unexpected {s[i]!r} in flow collection {s!r}")
    return _flow_scalar(s, i, where)


def _flow_scalar(s: str, i: int, where: str, key: bool = False):
    while i < len(s) and s[i] == " ":
        i += 1
    if i < len(s) and s[i] in "'\"":
        q, j = s[i], i + 1
        while j < len(s):
            if s[j] == "\\" and q == '"':
                j += 2
                continue
            if s[j] == q:
                if q == "'" and j + 1 < len(s) and s[j + 1] == "'":
                    j += 2
                    continue
                break
            j += 1
        if j >= len(s):
            raise YamlError(f"{where}: unterminated string in {s!r}")
        return _unquote(s[i:j + 1], where), j + 1
    j = i
    while j < len(s) and s[j] not in ",]}" and not (key and s[j] == ":"):
        if s[j] == ":" and (j + 1 == len(s) or s[j + 1] == " ") and not key:
            raise YamlError(f"{where}: ': ' in a plain flow scalar {s!r}")
        j += 1
    return (s[i:j].strip() or None), j


_KEY = re.compile(r"""^("(?:[^"\\]|\\.)*"|'(?:[^']|'')*'|[^\s'"\[\]{}#&*!|>%@`,-][^:]*?|-[^\s:][^:]*?):(?:\s+(.*))?$""")


class MiniYaml:
    def __init__(self, text: str, name: str):
        self.raw = text.split("\n")
        self.lines = [_strip_comment(line.replace("\t", "    ")) for line in self.raw]
        self.name = name
        self.i = 0

    def where(self) -> str:
        return f"{self.name}:{self.i + 1}"

    def _skip(self) -> None:
        while self.i < len(self.lines) and not self.lines[self.i].strip():
            self.i += 1

    def _eof(self) -> bool:
        self._skip()
        return self.i >= len(self.lines)

    def _indent(self) -> int:
        line = self.lines[self.i]
        return len(line) - len(line.lstrip(" "))

    def _content(self) -> str:
        return self.lines[self.i].strip()

    def _is_item(self) -> bool:
        c = self._content()
        return c == "-" or c.startswith("- ")

    def parse(self):
        if self._eof():
            return None
        if self._content() in ("---",):
            self.i += 1
        if self._eof():
            return None
        value = self._node(self._indent())
        if not self._eof():
            raise YamlError(f"{self.where()}: unexpected indentation or a second document")
        return value

    def _node(self, ind: int):
        return self._seq(ind) if self._is_item() else self._map(ind)

    def _seq(self, ind: int) -> list:
        items = []
        while not self._eof() and self._indent() == ind and self._is_item():
            rest = self._content()[1:]
            if not rest.strip():
                self.i += 1
                if not self._eof() and self._indent() > ind:
                    items.append(self._node(self._indent()))
                else:
                    items.append(None)
                continue
            sub = ind + 1 + len(rest) - len(rest.lstrip())
            rest = rest.strip()
            if rest[0] not in "'\"[{" and _KEY.match(rest) or rest[0] in "'\"" and _KEY.match(rest):
                # "- key: value": a mapping whose first entry sits on the dash's line
                self.lines[self.i] = " " * sub + rest
                items.append(self._map(sub))
            else:
                items.append(_unquote(rest, self.where()))
                self.i += 1
        if not self._eof() and self._indent() > ind:
            raise YamlError(f"{self.where()}: bad indentation in a sequence")
        return items

    def _map(self, ind: int) -> dict:
        d: dict = {}
        while not self._eof() and self._indent() == ind and not self._is_item():
            m = _KEY.match(self._content())
            if not m:
                raise YamlError(f"{self.where()}: expected 'key: value', got {self._content()!r}")
            key = _unquote(m.group(1), self.where())
            rest = (m.group(2) or "").strip()
            if key in d:
                raise YamlError(f"{self.where()}: duplicate key {key!r}")
            line_no = self.i
            self.i += 1
            if rest[:1] in ("|", ">"):
                d[key] = self._block(ind, rest, line_no)
            elif not rest:
                if not self._eof() and (self._indent() > ind or (self._indent() == ind and self._is_item())):
                    d[key] = self._node(self._indent())
                else:
                    d[key] = None
            else:
                d[key] = _unquote(rest, f"{self.name}:{line_no + 1}")
        if not self._eof() and self._indent() > ind:
            raise YamlError(f"{self.where()}: bad indentation in a mapping")
        return d

    def _block(self, ind: int, header: str, line_no: int) -> str:
        if not re.fullmatch(r"[|>][-+]?", header):
            raise YamlError(f"{self.name}:{line_no + 1}: unsupported block scalar header {header!r}")
        body, block_ind = [], None
        while self.i < len(self.raw):
            raw = self.raw[self.i].replace("\t", "    ")
            if raw.strip():
                n = len(raw) - len(raw.lstrip(" "))
                if n <= ind:
                    break
                if block_ind is None:
                    block_ind = n
                if n < block_ind:
                    raise YamlError(f"{self.name}:{self.i + 1}: bad indentation in a block scalar")
                body.append(raw[block_ind:])
            else:
                body.append("")
            self.i += 1
        while body and not body[-1]:
            body.pop()
        if header[0] == ">":
            text, prev_blank = "", True
            for line in body:
                if not line:
                    text += "\n"
                    prev_blank = True
                else:
                    text += ("" if prev_blank else " ") + line
                    prev_blank = False
        else:
            text = "\n".join(body)
        return text if header.endswith("-") else text + "\n"


def load_yaml(path: Path):
    return MiniYaml(path.read_text(), str(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)).parse()


# --------------------------------------------------------------------------------------
# Metric names in PromQL

AGGREGATIONS = {"sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values", "bottomk",
                "topk", "quantile", "limitk", "limit_ratio"}
KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless",
            "offset", "atan2", "inf", "nan", "start", "end"}
LABEL_LISTS = {"by", "without", "on", "ignoring", "group_left", "group_right"}
# Series Prometheus makes itself, and others' metrics (kube-state-metrics).
NOT_OURS = re.compile(r"^(kube_|up$|ALERTS$|ALERTS_FOR_STATE$|scrape_)")

_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)
  | (?P<num>0x[0-9a-fA-F]+|(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?(?:ms|[smhdwy])?(?:\d+(?:ms|[smhdwy]))*)
  | (?P<ident>[a-zA-Z_:][a-zA-Z0-9_:]*)
  | (?P<op>=~|!~|!=|==|<=|>=|[-+*/%^<>=(){}\[\],@:])
""", re.X)


def tokens(expr: str) -> list[tuple[str, str]]:
    out, i = [], 0
    while i < len(expr):
        m = _TOKEN.match(expr, i)
        if not m:
            raise ValueError(f"cannot read {expr[i:i + 20]!r}")
        if m.lastgroup != "ws":
            out.append((m.lastgroup, m.group()))
        i = m.end()
    return out


def _string_value(tok: str) -> str:
    if tok.startswith("`"):
        return tok[1:-1]
    try:
        return json.loads('"' + tok[1:-1].replace('\\\'', "'") + '"') if tok[0] == "'" else json.loads(tok)
    except json.JSONDecodeError:
        return tok[1:-1]


def selectors(expr: str) -> list[tuple[str, dict[str, str]]]:
    """The metric names an expression selects, each with its equality matchers
    ({"job": "login"}), skipping functions, aggregations, keywords, label lists (by, on, …),
    strings, ranges and offsets."""
    toks = tokens(expr)
    out, i = [], 0

    def skip_group(i: int, open_: str, close: str) -> int:
        depth = 0
        while i < len(toks):
            if toks[i][1] == open_:
                depth += 1
            elif toks[i][1] == close:
                depth -= 1
                if depth == 0:
                    return i + 1
            i += 1
        raise ValueError(f"unbalanced {open_}{close}")

    def matchers(i: int) -> tuple[dict[str, str], int]:
        eq: dict[str, str] = {}
        j = i + 1
        while j < len(toks) and toks[j][1] != "}":
            if toks[j][0] in ("ident", "str") and j + 2 < len(toks) and toks[j + 1][1] in ("=", "!=", "=~", "!~"):
                label = toks[j][1] if toks[j][0] == "ident" else _string_value(toks[j][1])
                if toks[j + 1][1] == "=" and toks[j + 2][0] == "str":
                    eq[label] = _string_value(toks[j + 2][1])
                j += 3
            else:
                j += 1
        if j >= len(toks):
            raise ValueError("unbalanced {}")
        return eq, j + 1

    while i < len(toks):
        kind, text = toks[i]
        nxt = toks[i + 1][1] if i + 1 < len(toks) else ""
        if kind == "ident":
            low = text.lower()
            if low in LABEL_LISTS:
                i = skip_group(i + 1, "(", ")") if nxt == "(" else i + 1
            elif nxt == "(" or text in AGGREGATIONS or low in KEYWORDS:
                i += 1
            else:
                eq: dict[str, str] = {}
                i += 1
                if nxt == "{":
                    eq, i = matchers(i)
                out.append((text, eq))
        elif text == "{":
            eq, i = matchers(i)
            if "__name__" in eq:
                out.append((eq.pop("__name__"), eq))
        elif text == "[":
            i = skip_group(i, "[", "]")
        else:
            i += 1
    return out


def metric_names(expr: str) -> set[str]:
    return {name for name, _ in selectors(expr)}


def exposition(metrics_dir: Path) -> tuple[set[str], dict[str, set[str]]]:
    """The metric names in DIR's *.prom files: all of them, and by job (from the file names)."""
    everything: set[str] = set()
    by_job: dict[str, set[str]] = {}
    files = sorted(metrics_dir.glob("*.prom"))
    if not files:
        raise FileNotFoundError(f"no *.prom files in {metrics_dir}")
    for f in files:
        names: set[str] = set()
        for line in f.read_text().splitlines():
            line = line.strip()
            if not line:
                continue
            if line.startswith("#"):
                m = re.match(r"#\s+(TYPE|HELP)\s+([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\s+(\S+))?", line)
                if not m:
                    continue
                name, kind = m.group(2), (m.group(3) if m.group(1) == "TYPE" else None)
                names.add(name)
                if kind == "histogram":
                    names |= {f"{name}_bucket", f"{name}_sum", f"{name}_count"}
                elif kind == "summary":
                    names |= {f"{name}_sum", f"{name}_count"}
                elif kind == "counter" and not name.endswith("_total"):
                    names.add(f"{name}_total")
                continue
            m = re.match(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(\{|\s)", line + " ")
            if m:
                names.add(m.group(1))
        everything |= names
        job = re.split(r"[-_.]", f.stem, maxsplit=1)[0]
        if job in JOBS:
            by_job.setdefault(job, set()).update(names)
    return everything, by_job


# --------------------------------------------------------------------------------------
# promtool


def promtool() -> str:
    tool = os.environ.get("PROMTOOL") or shutil.which("promtool")
    if not tool or not Path(tool).exists():
        print("observability: promtool not found (set PROMTOOL, or install it: scripts/deps.sh observe)")
        sys.exit(2)
    return tool


def run(args: list[str], cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, cwd=cwd)


def tail(r: subprocess.CompletedProcess, n: int = 40) -> str:
    text = (r.stdout + r.stderr).strip().splitlines()
    return "\n      ".join(text[-n:])


# --------------------------------------------------------------------------------------
# The checks. Each returns its failures (and prints nothing): main and the self-test decide.


def alerts_of(rules_file: Path) -> list[dict]:
    doc = load_yaml(rules_file) or {}
    return [r for g in doc.get("groups") or [] for r in g.get("rules") or [] if "alert" in r]


def check_rules_structure(rules_file: Path, tests_file: Path, runbooks: Path) -> list[str]:
    errs = []
    text = rules_file.read_text()
    for m in re.finditer(r"\{\{-?\s*(\.|include|template|if\b|range\b|with\b|define\b|toYaml|tpl\b|-?\s*/\*)", text):
        errs.append(f"{rules_file.name}: Helm templating {m.group()!r}: the rule file must be plain Prometheus rules")
    try:
        alerts = alerts_of(rules_file)
        tests = load_yaml(tests_file) or {}
    except YamlError as e:
        return errs + [str(e)]
    if not alerts:
        errs.append(f"{rules_file.name}: no alerts")
    names = [a["alert"] for a in alerts]
    for n in {n for n in names if names.count(n) > 1}:
        errs.append(f"{rules_file.name}: alert {n} is defined twice")
    cases: dict[str, list[list]] = {}
    for t in tests.get("tests") or []:
        for c in t.get("alert_rule_test") or []:
            cases.setdefault(c.get("alertname"), []).append(c.get("exp_alerts") or [])
    for a in alerts:
        name = a["alert"]
        ann = a.get("annotations") or {}
        want = f"{PLACEHOLDER}/{name}.md"
        if ann.get("runbook_url") != want:
            errs.append(f"alert {name}: runbook_url must be {want}, got {ann.get('runbook_url')!r}")
        if not ann.get("summary"):
            errs.append(f"alert {name}: no summary annotation")
        if not (a.get("labels") or {}).get("severity"):
            errs.append(f"alert {name}: no severity label")
        if not (runbooks / f"{name}.md").is_file():
            errs.append(f"alert {name}: no runbook {runbooks.relative_to(ROOT) if runbooks.is_relative_to(ROOT) else runbooks}/{name}.md")
        got = cases.get(name, [])
        if not any(got):
            errs.append(f"alert {name}: no test case where it fires ({tests_file.name})")
        if not any(not exp for exp in got):
            errs.append(f"alert {name}: no test case where it stays quiet ({tests_file.name})")
        for exp in got:
            for e in exp:
                if not e.get("exp_labels") or not e.get("exp_annotations"):
                    errs.append(f"alert {name}: a test case without exp_labels and exp_annotations")
                elif (e["exp_annotations"].get("runbook_url")) != f"{TEST_RUNBOOK_BASE}/{name}.md":
                    errs.append(f"alert {name}: a test case expects runbook_url "
                                f"{e['exp_annotations'].get('runbook_url')!r}, not {TEST_RUNBOOK_BASE}/{name}.md")
    for name in sorted(set(cases) - set(names)):
        errs.append(f"{tests_file.name}: tests alert {name}, which {rules_file.name} does not define")
    if runbooks.is_dir():
        for f in sorted(runbooks.glob("*.md")):
            if f.stem not in names and f.stem.lower() != "readme":
                errs.append(f"runbook {f.name}: no alert {f.stem}")
    return errs


def substituted_copies(rules_file: Path, tests_file: Path, tmp: Path, base: str) -> Path:
    (tmp / "alerts.yaml").write_text(rules_file.read_text().replace(PLACEHOLDER, base))
    shutil.copy(tests_file, tmp / "alerts.test.yaml")
    return tmp


def check_promtool_rules(tool: str, rules_file: Path, tests_file: Path, base: str = TEST_RUNBOOK_BASE) -> list[str]:
    with tempfile.TemporaryDirectory() as t:
        tmp = substituted_copies(rules_file, tests_file, Path(t), base)
        r = run([tool, "check", "rules", "alerts.yaml"], cwd=tmp)
        if r.returncode != 0:
            return [f"promtool check rules {rules_file.name}:\n      {tail(r)}"]
        r = run([tool, "test", "rules", "alerts.test.yaml"], cwd=tmp)
        if r.returncode != 0:
            return [f"promtool test rules {tests_file.name}:\n      {tail(r)}"]
    return []


def check_compose_config(tool: str, config: Path, rules_file: Path) -> list[str]:
    """docker-compose's Prometheus configuration, its rules where the container mounts them."""
    text = config.read_text()
    mounted = re.findall(r"^\s*-\s*(/\S+/)alerts\.yaml\s*$", text, re.M)
    if not mounted:
        return [f"{config.name}: rule_files does not load alerts.yaml"]
    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t)
        (tmp / "alerts.yaml").write_text(rules_file.read_text().replace(PLACEHOLDER, TEST_RUNBOOK_BASE))
        (tmp / "prometheus.yaml").write_text(text.replace(mounted[0], ""))
        r = run([tool, "check", "config", "prometheus.yaml"], cwd=tmp)
        if r.returncode != 0:
            return [f"promtool check config {config.name}:\n      {tail(r)}"]
    jobs = set(re.findall(r"job_name:\s*['\"]?([\w-]+)", text))
    if jobs != set(JOBS):
        return [f"{config.name}: scrape jobs must be {sorted(JOBS)}, got {sorted(jobs)}"]
    return []


def grafana_vars(expr: str) -> str:
    def sub(m: re.Match) -> str:
        return GRAFANA_DURATIONS.get(m.group(1) or m.group(2), ".*")
    return re.sub(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)", sub, expr)


def dashboard_exprs(dash_dir: Path) -> tuple[list[tuple[str, str, str]], list[str]]:
    """(dashboard file, panel title, expression with Grafana's variables replaced) of every
    target and query variable, and what is wrong with the dashboards' structure."""
    exprs, errs, uids = [], [], {}
    files = sorted(dash_dir.glob("*.json"))
    if not files:
        errs.append(f"no dashboards in {dash_dir}")
    for f in files:
        try:
            d = json.loads(f.read_text())
        except json.JSONDecodeError as e:
            errs.append(f"{f.name}: not JSON: {e}")
            continue
        uid, title = d.get("uid"), d.get("title", "")
        if uid != f"pizza-{f.stem}":
            errs.append(f"{f.name}: uid must be pizza-{f.stem} (stable, links use it), got {uid!r}")
        if uid in uids:
            errs.append(f"{f.name}: uid {uid} is also {uids[uid]}'s")
        uids[uid] = f.name
        if not title.startswith("Pizza / "):
            errs.append(f"{f.name}: title must read 'Pizza / …', got {title!r}")
        if not isinstance(d.get("schemaVersion"), int) or d["schemaVersion"] < 36:
            errs.append(f"{f.name}: schemaVersion {d.get('schemaVersion')!r} (want 36 or later)")
        variables = d.get("templating", {}).get("list", [])
        if not any(v.get("name") == "datasource" and v.get("type") == "datasource" and v.get("query") == "prometheus"
                   for v in variables):
            errs.append(f"{f.name}: no datasource variable of type prometheus")
        for v in variables:
            if v.get("type") != "query":
                continue
            q = v.get("query")
            q = q.get("query", "") if isinstance(q, dict) else (q or "")
            m = re.fullmatch(r"\s*label_values\((.*),\s*([a-zA-Z_]\w*)\s*\)\s*", q)
            exprs.append((f.name, f"variable {v.get('name')}", grafana_vars(m.group(1) if m else q)))

        def panels(ps):
            for p in ps:
                yield p
                yield from panels(p.get("panels") or [])

        for p in panels(d.get("panels") or []):
            if p.get("type") == "row":
                continue
            ptitle = p.get("title") or f"panel {p.get('id')}"
            if (p.get("datasource") or {}).get("uid") != "${datasource}":
                errs.append(f"{f.name}: panel {ptitle!r}: datasource must be ${{datasource}}, got {p.get('datasource')!r}")
            targets = p.get("targets") or []
            if not targets:
                errs.append(f"{f.name}: panel {ptitle!r} has no query")
            for t in targets:
                ds = t.get("datasource")
                if ds is not None and ds.get("uid") != "${datasource}":
                    errs.append(f"{f.name}: panel {ptitle!r} target {t.get('refId')}: datasource must be ${{datasource}}")
                if not (t.get("expr") or "").strip():
                    errs.append(f"{f.name}: panel {ptitle!r} target {t.get('refId')}: no expression")
                    continue
                exprs.append((f.name, f"{ptitle} ({t.get('refId')})", grafana_vars(t["expr"])))
    return exprs, errs


def check_dashboard_exprs(tool: str, exprs: list[tuple[str, str, str]]) -> list[str]:
    """Each expression as a recording rule, parsed by promtool, which names each rule that
    does not parse (one by one if it did not)."""
    def rule_file(path: Path, items) -> None:
        lines = ["groups:", "  - name: dashboards", "    rules:"]
        for n, (_, _, expr) in items:
            lines += [f"      - record: dashboard_expr_{n}", f"        expr: {json.dumps(expr)}"]
        path.write_text("\n".join(lines) + "\n")

    numbered = list(enumerate(exprs))
    with tempfile.TemporaryDirectory() as t:
        f = Path(t) / "dashboards.rules.yaml"
        rule_file(f, numbered)
        r = run([tool, "check", "rules", str(f)])
        if r.returncode == 0:
            return []
        errs = []
        for m in re.finditer(r'"dashboard_expr_(\d+)": (.*)', r.stdout + r.stderr):
            board, panel, expr = exprs[int(m.group(1))]
            errs.append(f"dashboard {board}, panel {panel!r}: the expression does not parse\n"
                        f"      {expr}\n      {m.group(2)}")
        if errs:
            return errs
        for item in numbered:
            rule_file(f, [item])
            r1 = run([tool, "check", "rules", str(f)])
            if r1.returncode != 0:
                board, panel, expr = item[1]
                errs.append(f"dashboard {board}, panel {panel!r}: the expression does not parse\n"
                            f"      {expr}\n      {tail(r1, 5)}")
        return errs or [f"promtool check rules (dashboards):\n      {tail(r)}"]


def used_metrics(rules_file: Path, exprs: list[tuple[str, str, str]]) -> tuple[list[tuple[str, str, dict]], list[str]]:
    """(metric, where, equality matchers) for every selector of our alerts and the dashboards."""
    uses, errs = [], []
    try:
        alerts = alerts_of(rules_file)
    except YamlError as e:
        return [], [str(e)]
    sources = [(f"alert {a['alert']}", a.get("expr") or "") for a in alerts]
    sources += [(f"dashboard {b}, panel {p!r}", e) for b, p, e in exprs]
    for where, expr in sources:
        try:
            for name, eq in selectors(expr):
                if not NOT_OURS.match(name):
                    uses.append((name, where, eq))
        except ValueError as e:
            errs.append(f"{where}: cannot read the expression: {e}")
    return uses, errs


def check_exposed(uses: list[tuple[str, str, dict]], metrics_dir: Path) -> list[str]:
    try:
        everything, by_job = exposition(metrics_dir)
    except FileNotFoundError as e:
        return [str(e)]
    errs, seen = [], set()
    for name, where, eq in uses:
        job = eq.get("job")
        if name not in everything:
            key = (name, None)
            msg = f"{name} (used by {where}) is exposed by no service in {metrics_dir}"
        elif job in by_job and name not in by_job[job]:
            key = (name, job)
            msg = f"{name} (used by {where} with job=\"{job}\") is not in {job}'s exposition ({job}*.prom)"
        else:
            continue
        if key not in seen:
            seen.add(key)
            errs.append(msg)
    return errs


# --------------------------------------------------------------------------------------
# Self-test: the checks must fail on broken inputs, otherwise they prove nothing.

SELECTOR_CASES = {
    'sum by (job, le) (rate(foo_bucket{a="b", c=~"x|y"}[5m] offset 1h))': {"foo_bucket"},
    'a / on (job) group_left (version) b{__name__!=""} and ignoring (x) c unless d offset 5m': {"a", "b", "c", "d"},
    'label_replace(up{job="a"}, "dst", "$1", "src", "(.*)") or vector(1)': {"up"},
    'sum(rate({__name__="e_total", job="login"}[$__rate_interval])) by (job) > bool 0': {"e_total"},
    'histogram_quantile(0.99, sum without (instance) (rate(f_bucket[5m:1m]))) * 1e3 - time()': {"f_bucket"},
    'max_over_time(g[1h] @ end()) - count_values("v", h)': {"g", "h"},
}


def self_test(tool: str, uses: list[tuple[str, str, dict]]) -> None:
    for expr, want in SELECTOR_CASES.items():
        got = metric_names(grafana_vars(expr))
        if got != want:
            fail(f"self-test: the names in {expr!r} are {sorted(got)}, not {sorted(want)}")
    ok(f"self-test: metric names are read from {len(SELECTOR_CASES)} sample expressions "
       "(label lists, matchers, strings, ranges, offsets and functions skipped)")

    rules_text, tests_text = RULES.read_text(), RULE_TESTS.read_text()
    first = alerts_of(RULES)[0]["alert"]
    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t)

        def case(what: str, errs: list[str]) -> None:
            if errs:
                ok(f"self-test: {what} is caught")
            else:
                fail(f"self-test: {what} was not caught")

        def write(name: str, text: str) -> Path:
            p = tmp / name
            p.write_text(text)
            return p

        broken = write("broken.yaml", rules_text.replace("sum by (job) (rate(", "sum by (job) (rate((", 1))
        case("an alert expression that does not parse", check_promtool_rules(tool, broken, RULE_TESTS))
        case("a test expecting another runbook base",
             check_promtool_rules(tool, RULES, RULE_TESTS, base="https://elsewhere.test"))
        wrong = write("wrong.yaml", rules_text.replace("> 0.02", "> 0.5", 1))
        case("an alert that no longer fires where its test says", check_promtool_rules(tool, wrong, RULE_TESTS))
        no_runbook = write("norunbook.yaml", rules_text.replace(f"runbook_url: {PLACEHOLDER}/{first}.md",
                                                                f"runbook_url: https://wiki.example/{first}", 1))
        case("an alert without its runbook_url", check_rules_structure(no_runbook, RULE_TESTS, RUNBOOKS))
        templated = write("templated.yaml", rules_text.replace("severity: page", "severity: {{ .Values.severity }}", 1))
        case("Helm templating in the rule file", check_rules_structure(templated, RULE_TESTS, RUNBOOKS))
        untested = write("untested.test.yaml", tests_text.replace(f"alertname: {first}\n", "alertname: Renamed\n"))
        case(f"{first} without tests", check_rules_structure(RULES, untested, RUNBOOKS))
        books = tmp / "runbooks"
        shutil.copytree(RUNBOOKS, books)
        (books / f"{first}.md").unlink()
        case(f"{first} without its runbook", check_rules_structure(RULES, RULE_TESTS, books))

        dash = tmp / "dashboards"
        shutil.copytree(DASHBOARDS, dash)
        victim = sorted(dash.glob("*.json"))[0]
        d = json.loads(victim.read_text())
        panel = next(p for p in d["panels"] if p.get("targets"))
        panel["targets"][0]["expr"] = "sum(rate(http_request_duration_seconds_count[$__rate_interval])"
        victim.write_text(json.dumps(d))
        exprs, errs = dashboard_exprs(dash)
        errs = check_dashboard_exprs(tool, exprs)
        case(f"a dashboard expression that does not parse ({victim.name})",
             [e for e in errs if panel["title"] in e])
        panel["targets"][0]["expr"] = "up"
        panel["datasource"] = {"type": "prometheus", "uid": "P1809F7CD0C75ACF3"}
        victim.write_text(json.dumps(d))
        case("a dashboard panel with a hard-coded datasource", dashboard_exprs(dash)[1])

        # An exposition of exactly what is used passes; without one metric (or without it in
        # its job's file) it fails.
        names = sorted({n for n, _, _ in uses})
        job_names: dict[str, set[str]] = {}
        for n, _, eq in uses:
            if eq.get("job") in JOBS:
                job_names.setdefault(eq["job"], set()).add(n)

        def expose(where: Path, drop: str | None = None, drop_job: str | None = None) -> Path:
            where.mkdir()
            lines = []
            for n in names:
                if n != drop:
                    lines += [f"# TYPE {n} gauge", f'{n}{{x="1"}} 1']
            (where / "all.prom").write_text("\n".join(lines) + "\n")
            for job, ns in job_names.items():
                (where / f"{job}-0.prom").write_text(
                    "".join(f"{n} 1\n" for n in sorted(ns) if not (n == drop and drop_job in (None, job))))
            return where

        if names:
            full = expose(tmp / "m-full")
            errs = check_exposed(uses, full)
            if errs:
                fail(f"self-test: an exposition of every used metric fails: {errs[:3]}")
            case(f"an exposition without {names[0]}", check_exposed(uses, expose(tmp / "m-less", drop=names[0])))
            if job_names:
                job, ns = sorted(job_names.items())[0]
                n = sorted(ns)[0]
                case(f"{n} missing from {job}'s exposition only",
                     check_exposed(uses, expose(tmp / "m-job", drop=n, drop_job=job)))


# --------------------------------------------------------------------------------------


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--metrics", type=Path, metavar="DIR",
                    help="*.prom files: the text exposition of each running service (login.prom, menu-1.prom, …)")
    args = ap.parse_args()
    tool = promtool()
    print(f"observability ({run([tool, '--version']).stdout.splitlines()[0]})")

    def report(what: str, errs: list[str]) -> None:
        for e in errs:
            fail(e)
        if not errs:
            ok(what)

    n_alerts = len(alerts_of(RULES))
    report(f"alerts: {n_alerts} alerts, each with runbook_url, runbook, a firing and a quiet test",
           check_rules_structure(RULES, RULE_TESTS, RUNBOOKS))
    report(f"alerts: promtool check rules and test rules (runbook base {TEST_RUNBOOK_BASE})",
           check_promtool_rules(tool, RULES, RULE_TESTS))
    report("docker-compose's Prometheus: promtool check config with the rules, jobs login/menu/order/payment",
           check_compose_config(tool, COMPOSE_PROMETHEUS, RULES))
    exprs, errs = dashboard_exprs(DASHBOARDS)
    report(f"dashboards: {len(list(DASHBOARDS.glob('*.json')))} dashboards: uid, title, ${{datasource}} everywhere", errs)
    report(f"dashboards: {len(exprs)} expressions parse (promtool check rules)", check_dashboard_exprs(tool, exprs))
    uses, errs = used_metrics(RULES, exprs)
    report(f"metric names read from the alerts and dashboards: {len({u[0] for u in uses})}", errs)
    if args.metrics:
        files = sorted(args.metrics.glob("*.prom"))
        report(f"every metric used is exposed ({len(files)} expositions in {args.metrics})",
               check_exposed(uses, args.metrics))
    self_test(tool, uses)

    print()
    if failures:
        print(f"observability checks: {len(failures)} failed")
        return 1
    print("observability checks: all passed" + ("" if args.metrics else " (no --metrics: exposition not checked)"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
