"""Custom-domain benchmarks, three parts (each can be run alone: --only ask|host|sweep).

    .venv/bin/python -m bench.domains

ask    /tls/ask through gunicorn with 100,000 domains in PostgreSQL: p99 at 4 clients (target
       ≤ 10 ms), and requests/s at 32 clients against /healthz in the same run (target ≥ 0.5×).
host   The demo site through deploy/'s Nginx by Host (a custom domain, served at /) against by
       path (/<slug>/), interleaved rounds, best of each (target ≥ 0.95×).
sweep  The DNS check sweep over 10,000 domains in PostgreSQL with 100 due (then 200 and 400, to
       show that its time follows the number due, not the table), against the loopback DNS
       server of the tests (target ≤ 10 s for 100 due).

Self-contained: its own PostgreSQL databases (dropped at the end), temp SITES_ROOT, servers on
free loopback ports. Settings: BENCH_SECONDS (8), BENCH_ROUNDS (3), BENCH_WORKERS (gunicorn
workers, 2).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa

from bench.portal import WRK_SCRIPT, create_database, drop_database, free_port, stop
from lavish.config import PROJECT_ROOT

SECONDS = int(os.environ.get("BENCH_SECONDS", "8"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
WORKERS = int(os.environ.get("BENCH_WORKERS", "2"))
WRK = shutil.which("wrk") or "/usr/bin/wrk"
SECRET_KEY = "bench-domains"
DOMAINS_FOR_ASK = int(os.environ.get("BENCH_ASK_DOMAINS", "100000"))
DOMAINS_FOR_SWEEP = 10_000


def wrk(url: str, connections: int, seconds: int = SECONDS, host: str | None = None) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT)
    command = [WRK, "-t", str(min(2, connections)), "-c", str(connections), "-d", f"{seconds}s",
               "-s", script.name]  # fmt: skip
    if host:
        command += ["-H", f"Host: {host}"]
    output = subprocess.run(command + [url], capture_output=True, text=True, check=True).stdout
    os.unlink(script.name)
    numbers = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", output.split("RESULT", 1)[1])}
    return {
        "p50_ms": numbers["p50"] / 1000,
        "p99_ms": numbers["p99"] / 1000,
        "rps": numbers["requests"] / (numbers["duration"] / 1_000_000),
        "non2xx": numbers["non2xx"],
        "errors": numbers["errors"],
    }


def _app(database_url: str, **config):
    from lavish import create_app

    return create_app({"SQLALCHEMY_DATABASE_URI": database_url, "SECRET_KEY": SECRET_KEY, **config})


def seed_domains(database_url: str, count: int, *, due: int = 0) -> list[str]:
    """`count` active domains over 100 active sites (one per site is as realistic as any split),
    the first `due` of them pending and due now. Returns the pending names."""
    from flask_migrate import upgrade

    from lavish.clock import utcnow
    from lavish.extensions import db
    from lavish.models import Domain, Site, SiteStatus

    app = _app(database_url)
    with app.app_context():
        upgrade()
        sites = [
            Site(slug=f"site-{n}", business_name=f"Site {n}", status=SiteStatus.ACTIVE)
            for n in range(100)
        ]
        db.session.add_all(sites)
        db.session.flush()
        now = utcnow()
        rows = []
        for n in range(count):
            pending = n < due
            rows.append({
                "site_id": sites[n % 100].id, "name": f"d{n}.example.com",
                "unicode_name": f"d{n}.example.com", "partner": None, "apex": False,
                "claim_key": f"d{n}.example.com", "token": f"tok{n}",
                "status": "pending" if pending else "active", "https_status": "waiting",
                "name_warning": "", "routing_failures": 0, "released_reason": "",
                "cert_issuer": "", "https_error": "",
                "next_check_at": now - timedelta(seconds=1) if pending else now + timedelta(days=1),
                "created_at": now, "updated_at": now,
            })  # fmt: skip
        db.session.execute(sa.insert(Domain), rows)
        db.session.commit()
        db.session.execute(sa.text("ANALYZE"))
        db.session.commit()
        db.engine.dispose()
    return [f"d{n}.example.com" for n in range(due)]


def gunicorn(database_url: str, port: int, extra_env: dict | None = None) -> subprocess.Popen:
    env = {
        **{k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "MAIL_SERVER"}},
        "DATABASE_URL": database_url,
        "SECRET_KEY": SECRET_KEY,
        "PUBLIC_URL": f"http://127.0.0.1:{port}",
        **(extra_env or {}),
    }
    process = subprocess.Popen(
        # gthread workers keep connections alive (as bench/portal.py runs them).
        [str(Path(sys.executable).with_name("gunicorn")), "-w", str(WORKERS), "--threads", "4",
         "-b",
         f"127.0.0.1:{port}", "--log-level", "warning", "wsgi:app"],
        cwd=PROJECT_ROOT, env=env, start_new_session=True,
    )  # fmt: skip
    import urllib.request

    # The socket listens before the workers have imported the app: wait for real answers.
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5):
                return process
        except OSError:
            time.sleep(0.5)
    stop(process)
    raise SystemExit("gunicorn did not start")


def bench_ask() -> dict:
    name, url = create_database()
    try:
        started = time.perf_counter()
        seed_domains(url, DOMAINS_FOR_ASK)
        print(f"ask: seeded {DOMAINS_FOR_ASK:,} domains in {time.perf_counter() - started:.0f} s")
        port = free_port()
        process = gunicorn(url, port)
        try:
            ask = f"http://127.0.0.1:{port}/tls/ask?domain=d{DOMAINS_FOR_ASK // 2}.example.com"
            no = f"http://127.0.0.1:{port}/tls/ask?domain=unknown.example.org"
            health = f"http://127.0.0.1:{port}/healthz"
            import urllib.request

            with urllib.request.urlopen(ask, timeout=30) as answer:
                assert answer.status == 200, answer.status
            wrk(ask, 4, 3)  # warm up (every worker's first database connection)
            at4 = wrk(ask, 4)
            at4_no = wrk(no, 4)
            best_ratio, pairs = 0.0, []
            for _ in range(ROUNDS):
                h = wrk(health, 32)
                a = wrk(ask, 32)
                pairs.append((h["rps"], a["rps"]))
                best_ratio = max(best_ratio, a["rps"] / h["rps"])
        finally:
            stop(process)
    finally:
        drop_database(name)
    result = {
        "p99_ms_4_clients": at4["p99_ms"],
        "p50_ms_4_clients": at4["p50_ms"],
        "rps_4_clients": at4["rps"],
        "p99_ms_4_clients_unknown": at4_no["p99_ms"],
        "rounds_32_clients_healthz_vs_ask_rps": [(round(h), round(a)) for h, a in pairs],
        "ratio_32_clients": best_ratio,
    }
    print(
        f"ask: 4 clients p50 {at4['p50_ms']:.2f} ms p99 {at4['p99_ms']:.2f} ms "
        f"({at4['rps']:,.0f}/s; unknown name p99 {at4_no['p99_ms']:.2f} ms) · target p99 ≤ 10 ms"
    )
    print(
        "ask: 32 clients, healthz vs ask req/s per round: "
        + ", ".join(f"{h:,.0f} vs {a:,.0f}" for h, a in pairs)
        + f" → best ratio {best_ratio:.2f} · target ≥ 0.5"
    )
    return result


def bench_host() -> dict:
    from flask_migrate import upgrade

    from lavish.domains.publish import write_files
    from lavish.extensions import db
    from lavish.hosting import services
    from lavish.hosting.cli import DEMO_FOLDER, DEMO_SLUG, import_site
    from lavish.hosting.nginx import render_config, running_nginx
    from lavish.models import Domain, SiteStatus

    work = Path(tempfile.mkdtemp(prefix="lavish-bench-domains-"))
    database = f"sqlite:///{work / 'bench.db'}"
    app = _app(database, SITES_ROOT=str(work / "hosted"))
    port = free_port()
    try:
        with app.app_context():
            upgrade()
            site, _, _ = import_site(DEMO_SLUG, DEMO_FOLDER, name="LA Plumbing Pros")
            services.change_status(site, SiteStatus.ACTIVE)
            db.session.add(Domain(site_id=site.id, name="plumbing.example", token="t",
                                  unicode_name="plumbing.example", claim_key="plumbing.example",
                                  status="active"))  # fmt: skip
            db.session.commit()
            write_files()
            # No redirect of the path URL: the bench compares the two ways of serving.
            conf = render_config(listen=f"127.0.0.1:{port}", upstream="127.0.0.1:9")
            conf = conf.replace("if ($lavish_domain_redirect)", "if ($lavish_never)")
            conf = 'map $host $lavish_never { default ""; }\n' + conf
        by_path, by_host = [], []
        with running_nginx(work / "nginx", conf, port):
            base = f"http://127.0.0.1:{port}"
            for _ in range(2):
                wrk(f"{base}/{DEMO_SLUG}/", 4, 1)
                wrk(f"{base}/", 4, 1, host="plumbing.example")
            for _ in range(ROUNDS):
                p = wrk(f"{base}/{DEMO_SLUG}/", 16)
                h = wrk(f"{base}/", 16, host="plumbing.example")
                assert p["non2xx"] == 0 and h["non2xx"] == 0, (p, h)
                by_path.append(p["rps"])
                by_host.append(h["rps"])
    finally:
        shutil.rmtree(work, ignore_errors=True)
    ratio = max(by_host) / max(by_path)
    print(
        "host: req/s by path vs by Host per round: "
        + ", ".join(f"{p:,.0f} vs {h:,.0f}" for p, h in zip(by_path, by_host, strict=True))
        + f" → best {max(by_host):,.0f} / {max(by_path):,.0f} = {ratio:.2f} · target ≥ 0.95"
    )
    return {"by_path": by_path, "by_host": by_host, "ratio": ratio}


def bench_sweep() -> dict:
    from tests.dns_support import LoopbackDNS, closed_port

    server = LoopbackDNS()
    results = {}
    try:
        for due in (100, 200, 400):
            name, url = create_database()
            try:
                pending = seed_domains(url, DOMAINS_FOR_SWEEP, due=due)
                # Half of the due domains have their records right (they become active).
                zones = {"sites.lavish.test": [("A", "203.0.113.10")]}
                for n, host in enumerate(pending):
                    if n % 2 == 0:
                        zones[host] = [("CNAME", "sites.lavish.test")]
                        zones[f"_lavish-challenge.{host}"] = [("TXT", f"lavish-verify=tok{n}")]
                server.reset()
                server.zones = zones
                app = _app(
                    url,
                    DNS_RESOLVERS=[server.address],
                    DOMAINS_CNAME_TARGET="sites.lavish.test",
                    DOMAINS_A_RECORDS=["203.0.113.10"],
                    TLS_PROBE_ADDR=f"127.0.0.1:{closed_port()}",
                    SITES_ROOT=tempfile.mkdtemp(prefix="lavish-bench-sweep-"),
                    MAIL_SERVER=None,
                    REDIS_URL=None,
                )
                from lavish.domains.sweeps import sweep

                with app.app_context():
                    started = time.perf_counter()
                    counts = sweep()
                    elapsed = time.perf_counter() - started
                    from lavish.extensions import db

                    db.engine.dispose()
                results[due] = elapsed
                print(
                    f"sweep: {DOMAINS_FOR_SWEEP:,} domains, {due} due: {elapsed:.2f} s "
                    f"({counts['checked']} checked, {len(server.queries)} DNS queries)"
                    + (" · target ≤ 10 s" if due == 100 else "")
                )
            finally:
                drop_database(name)
    finally:
        server.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", choices=["ask", "host", "sweep"])
    args = parser.parse_args()
    if not shutil.which("wrk") and args.only != "sweep":
        raise SystemExit("wrk is not installed (make system-deps)")
    for part, run in (("ask", bench_ask), ("host", bench_host), ("sweep", bench_sweep)):
        if args.only in (None, part):
            run()


if __name__ == "__main__":
    main()
