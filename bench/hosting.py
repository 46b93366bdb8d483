"""Hosting benchmark: the demo site's home page under wrk, four ways, one after the other.

    .venv/bin/python -m bench.hosting            (or `make bench`)

(a) Nginx with deploy/nginx/lavish.conf  vs  a bare Nginx serving the same file  → target ≥ 0.95
(b) the Flask fallback under gunicorn    vs  a minimal Flask send_from_directory app under the
    same gunicorn settings                                                       → target ≥ 0.90

Self-contained: a temp SITES_ROOT and SQLite database with the demo site published (a preview
site: claim bar, noindex), every server on a free loopback port, all stopped at the end. The
pairs are interleaved (A B A B …) and the best round of each is kept, which evens out noise
from other processes on the machine. Settings: BENCH_SECONDS (8), BENCH_ROUNDS (3),
BENCH_CONNECTIONS (16), BENCH_WORKERS (gunicorn workers, 2), BENCH_NGINX_WORKERS (1).
For information it also measures a bare Nginx with the deploy config's open_file_cache, the
like-for-like baseline of what the state handling costs.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from lavish.config import PROJECT_ROOT

SECONDS = int(os.environ.get("BENCH_SECONDS", "8"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "16"))
WORKERS = int(os.environ.get("BENCH_WORKERS", "2"))
NGINX_WORKERS = os.environ.get("BENCH_NGINX_WORKERS", "1")
WRK = shutil.which("wrk") or "/usr/bin/wrk"
SLUG = "la-plumbing-pros"
# The deploy config's cache settings, for the informational third Nginx.
OPEN_FILE_CACHE = (
    "open_file_cache max=10000 inactive=60s; open_file_cache_valid 1s; "
    "open_file_cache_min_uses 1; open_file_cache_errors on;"
)

MINIMAL_APP = '''\
"""The baseline: a minimal Flask app serving one folder with send_from_directory."""
import os
from flask import Flask, send_from_directory

ROOT = os.environ["BENCH_STATIC_ROOT"]
app = Flask(__name__)


@app.get("/<slug>/", defaults={"path": "index.html"})
@app.get("/<slug>/<path:path>")
def serve(slug, path):
    return send_from_directory(ROOT, path)
'''


def wrk(url: str) -> float:
    result = subprocess.run(
        [WRK, "-t1", f"-c{CONNECTIONS}", f"-d{SECONDS}s", url],
        capture_output=True,
        text=True,
        check=True,
    )
    match = re.search(r"Requests/sec:\s+([\d.]+)", result.stdout)
    if not match:
        raise RuntimeError(f"wrk said:\n{result.stdout}\n{result.stderr}")
    if "Non-2xx" in result.stdout:
        raise RuntimeError(f"{url} answered errors under load:\n{result.stdout}")
    return float(match.group(1))


def gunicorn(app_spec: str, port: int, env: dict, cwd: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            app_spec,
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(WORKERS),
            "--worker-class",
            "sync",
            "--log-level",
            "warning",
        ],  # fmt: skip
        cwd=cwd,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
    )


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def same_bytes(*urls: str) -> None:
    import urllib.request

    bodies = [urllib.request.urlopen(url, timeout=10).read() for url in urls]
    if len(set(bodies)) != 1:
        raise RuntimeError(f"the servers do not serve the same bytes: {urls}")


def in_process_us(wsgi_app, path: str, n: int = 2000) -> float:
    """Best-of-5 mean CPU time per request calling the WSGI app directly (no sockets, no gunicorn):
    steadier than wrk on a busy machine."""
    from werkzeug.test import EnvironBuilder

    environ = EnvironBuilder(path=path).get_environ()
    best = float("inf")
    for _ in range(5):
        start = time.process_time()
        for _ in range(n):
            body = wsgi_app(dict(environ), lambda *args: None)
            for _chunk in body:
                pass
            if hasattr(body, "close"):
                body.close()
        best = min(best, (time.process_time() - start) / n)
    return best * 1e6


def minimal_app(root: Path):
    from flask import Flask, send_from_directory

    app = Flask("minimal")

    @app.get("/<slug>/", defaults={"path": "index.html"})
    @app.get("/<slug>/<path:path>")
    def serve(slug, path):
        return send_from_directory(root, path)

    return app


def main() -> int:
    from flask_migrate import upgrade

    from lavish import create_app
    from lavish.hosting.cli import DEMO_FOLDER, import_site
    from lavish.hosting.nginx import free_port, render_config, running_nginx, wait_for_port

    work = Path(tempfile.mkdtemp(prefix="lavish-bench-"))
    sites_root = work / "hosted"
    database = f"sqlite:///{work / 'bench.db'}"
    env = {
        "DATABASE_URL": database,
        "SITES_ROOT": str(sites_root),
        "SECRET_KEY": "bench",
        "REDIS_URL": "",
    }
    app = create_app({"SQLALCHEMY_DATABASE_URI": database, "SITES_ROOT": str(sites_root)})
    with app.app_context():
        upgrade()
        import_site(SLUG, DEMO_FOLDER, name="LA Plumbing Pros", note="bench")
    live = (sites_root / "live" / SLUG).resolve()
    lavish_us = in_process_us(app, f"/{SLUG}/")
    minimal_us = in_process_us(minimal_app(live), f"/{SLUG}/")
    (work / "minimal_app.py").write_text(MINIMAL_APP)

    ports = {name: free_port() for name in ("deploy", "bare", "bare_cached", "flask", "minimal")}
    processes = [
        gunicorn("wsgi:app", ports["flask"], env, PROJECT_ROOT),
        gunicorn("minimal_app:app", ports["minimal"], {"BENCH_STATIC_ROOT": str(live)}, work),
    ]
    results: dict[str, list[float]] = {name: [] for name in ports}
    try:
        for name in ("flask", "minimal"):
            wait_for_port(ports[name], timeout=30)
        with app.app_context():
            deploy_conf = render_config(
                listen=f"127.0.0.1:{ports['deploy']}", upstream=f"127.0.0.1:{ports['flask']}"
            )
        bare_conf = f"server {{\n    listen 127.0.0.1:{ports['bare']};\n    root {live};\n}}\n"
        urls = {
            "deploy": f"http://127.0.0.1:{ports['deploy']}/{SLUG}/",
            "bare": f"http://127.0.0.1:{ports['bare']}/",
            "bare_cached": f"http://127.0.0.1:{ports['bare_cached']}/",
            "flask": f"http://127.0.0.1:{ports['flask']}/{SLUG}/",
            "minimal": f"http://127.0.0.1:{ports['minimal']}/{SLUG}/",
        }
        cached_conf = bare_conf.replace(
            f"listen 127.0.0.1:{ports['bare']};",
            f"listen 127.0.0.1:{ports['bare_cached']};\n    {OPEN_FILE_CACHE}",
        )
        nginx_workers = {"workers": NGINX_WORKERS}
        with (
            running_nginx(work / "deploy", deploy_conf, ports["deploy"], **nginx_workers),
            running_nginx(work / "bare", bare_conf, ports["bare"], **nginx_workers),
            running_nginx(work / "cached", cached_conf, ports["bare_cached"], **nginx_workers),
        ):
            same_bytes(*urls.values())
            for url in urls.values():  # warm up
                subprocess.run([WRK, "-t1", "-c4", "-d1s", url], capture_output=True)
            for round_number in range(1, ROUNDS + 1):
                for pair in (("deploy", "bare", "bare_cached"), ("flask", "minimal")):
                    for name in pair:
                        results[name].append(wrk(urls[name]))
                print(
                    f"round {round_number}/{ROUNDS}: "
                    + ", ".join(f"{n} {results[n][-1]:,.0f}" for n in results),
                    flush=True,
                )
    finally:
        for process in processes:
            stop(process)
        shutil.rmtree(work, ignore_errors=True)

    best = {name: max(values) for name, values in results.items()}
    ratio_a = best["deploy"] / best["bare"]
    ratio_b = best["flask"] / best["minimal"]
    print()
    print(f"GET /{SLUG}/ (demo home page, preview state), wrk -t1 -c{CONNECTIONS} -d{SECONDS}s,")
    print(f"best of {ROUNDS} interleaved rounds, nproc={os.cpu_count()}, {time.strftime('%F %T')}")
    print(f"  (a) Nginx, deploy/nginx/lavish.conf     {best['deploy']:>10,.0f} req/s")
    print(f"      Nginx, bare root serving the file   {best['bare']:>10,.0f} req/s")
    print(f"      ratio {ratio_a:.3f}  (target >= 0.95) {'OK' if ratio_a >= 0.95 else 'BELOW'}")
    print(f"      (info) bare + the same open_file_cache {best['bare_cached']:>8,.0f} req/s, "
          f"deploy/that {best['deploy'] / best['bare_cached']:.3f}")  # fmt: skip
    print(f"  (b) Flask fallback, gunicorn -w{WORKERS} sync    {best['flask']:>10,.0f} req/s")
    print(f"      minimal send_from_directory app     {best['minimal']:>10,.0f} req/s")
    print(f"      ratio {ratio_b:.3f}  (target >= 0.90) {'OK' if ratio_b >= 0.90 else 'BELOW'}")
    print(
        f"      (info) in-process per request: fallback {lavish_us:.0f} µs, minimal "
        f"{minimal_us:.0f} µs, throughput ratio {minimal_us / lavish_us:.2f}"
    )
    out = PROJECT_ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "hosting.json").write_text(
        json.dumps(
            {
                "rounds": results,
                "best": best,
                "ratio_a": ratio_a,
                "ratio_b": ratio_b,
                "in_process_us": {"fallback": lavish_us, "minimal": minimal_us},
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
