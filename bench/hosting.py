"""Hosting benchmark (issue 14): bytes, throughput, publish time and disk, one run, ratios.

    .venv/bin/python -m bench.hosting            (or `make bench`)

1. Bytes: the demo home page with everything it loads (CSS, images, favicon) through Nginx with
   the deploy config, with `Accept-Encoding: br`, `gzip` and none   → br ≤ 0.38, gzip ≤ 0.43.
2. Throughput with compression on (wrk sends `Accept-Encoding: gzip, deflate, br`):
   (a) Nginx with deploy/nginx/lavish.conf  vs  a bare Nginx with the same open_file_cache,
       gzip_static and brotli_static serving the same tree                         → ≥ 0.95;
       and the deploy config with one part taken out at a time (what each part costs);
   (b) the Flask fallback under gunicorn  vs  a minimal send_from_directory app serving the
       same precompressed file under the same gunicorn settings                    → ≥ 0.95.
3. Publishing the demo site with compression against without it (best of BENCH_PUBLISHES).
4. Disk: BENCH_VERSIONS (100) versions that each change one page: what they take beyond the
   first version against the changed files with their compressed siblings, plus directories.

Self-contained: a temp SITES_ROOT and SQLite database with the demo site published (a preview
site: claim bar, noindex), every server on a free loopback port, all stopped at the end. The
servers are measured in interleaved rounds (A B C … A B C …), best round kept for req/s, median
round for server CPU per request (steadier on a shared machine). Settings: BENCH_SECONDS (8),
BENCH_ROUNDS (3), BENCH_CONNECTIONS (16), BENCH_WORKERS (gunicorn workers, 2),
BENCH_NGINX_WORKERS (1), BENCH_PARTS (1: measure the deploy config's parts), BENCH_VERSIONS.
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
PARTS = os.environ.get("BENCH_PARTS", "1") == "1"
VERSIONS = int(os.environ.get("BENCH_VERSIONS", "100"))
PUBLISHES = int(os.environ.get("BENCH_PUBLISHES", "5"))
WRK = shutil.which("wrk") or "/usr/bin/wrk"
SLUG = "la-plumbing-pros"
BROWSER_ENCODING = "gzip, deflate, br"
# The deploy config's cache and compression settings, for the bare Nginx baseline.
BARE_SETTINGS = (
    "open_file_cache max=10000 inactive=60s; open_file_cache_valid 1s; "
    "open_file_cache_min_uses 1; open_file_cache_errors on; "
    "gzip off; gzip_static on; brotli_static on; gzip_http_version 1.0; gzip_proxied any;"
)

MINIMAL_APP = """\
\"\"\"The baseline: a minimal Flask app sending the precompressed file (send_from_directory).\"\"\"
import os
from flask import Flask, send_from_directory

ROOT = os.environ["BENCH_STATIC_ROOT"]
app = Flask(__name__)


@app.get("/<slug>/", defaults={"path": "index.html"})
@app.get("/<slug>/<path:path>")
def serve(slug, path):
    response = send_from_directory(ROOT, path + ".br", mimetype="text/html")
    response.headers["Content-Encoding"] = "br"
    return response
"""

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def tree_cpu_seconds(pid: int) -> float:
    """CPU time (user + system) used so far by a process and all its descendants still alive
    (Nginx and gunicorn workers live as long as the run)."""
    total = 0.0
    stack = [pid]
    while stack:
        current = stack.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
            for task in Path(f"/proc/{current}/task").iterdir():
                stack.extend(int(c) for c in (task / "children").read_text().split())
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total


def wrk(url: str, server_pid: int) -> tuple[float, float]:
    """(requests per second, server CPU µs per request), with a browser's Accept-Encoding."""
    cpu_before = tree_cpu_seconds(server_pid)
    result = subprocess.run(
        [WRK, "-t1", f"-c{CONNECTIONS}", f"-d{SECONDS}s", "-H",
         f"Accept-Encoding: {BROWSER_ENCODING}", url],
        capture_output=True,
        text=True,
        check=True,
    )  # fmt: skip
    match = re.search(r"Requests/sec:\s+([\d.]+)", result.stdout)
    if not match:
        raise RuntimeError(f"wrk said:\n{result.stdout}\n{result.stderr}")
    if "Non-2xx" in result.stdout:
        raise RuntimeError(f"{url} answered errors under load:\n{result.stdout}")
    cpu = tree_cpu_seconds(server_pid) - cpu_before
    requests = int(re.search(r"(\d+) requests in", result.stdout).group(1))
    return float(match.group(1)), cpu / max(requests, 1) * 1e6


def gunicorn(app_spec: str, port: int, env: dict, cwd: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "gunicorn", app_spec, "--bind", f"127.0.0.1:{port}",
         "--workers", str(WORKERS), "--worker-class", "sync", "--log-level", "warning"],
        cwd=cwd,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
    )  # fmt: skip


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def get(url: str, encoding: str | None = None) -> tuple[int, dict, bytes]:
    import urllib.request

    request = urllib.request.Request(url, headers={"Accept-Encoding": encoding or "identity"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()


def decoded(headers: dict, body: bytes) -> bytes:
    import gzip

    import brotli

    coding = headers.get("content-encoding")
    if coding == "br":
        return brotli.decompress(body)
    return gzip.decompress(body) if coding == "gzip" else body


def same_content(*urls: str) -> None:
    """Every server answers the browser's Accept-Encoding with br, and the same page."""
    bodies = set()
    for url in urls:
        try:
            _, headers, body = get(url, BROWSER_ENCODING)
        except OSError as exc:
            raise RuntimeError(f"{url}: {exc} ({urls})") from exc
        if headers.get("content-encoding") != "br":
            raise RuntimeError(f"{url} did not answer with br: {headers}")
        bodies.add(decoded(headers, body))
    if len(bodies) != 1:
        raise RuntimeError(f"the servers do not serve the same page: {urls}")


def page_with_assets(base: str, encoding: str | None) -> tuple[int, list[str]]:
    """Bytes on the wire (bodies) for the home page and every file it loads."""
    from urllib.parse import urljoin

    _, headers, body = get(base, encoding)
    html = decoded(headers, body).decode()
    total = len(body)
    loaded = sorted(
        set(re.findall(r"<(?:link|img|script|source)\b[^>]*?\b(?:href|src)=\"([^\"#?:]+)\"", html))
    )
    for rel in loaded:
        _, _, asset = get(urljoin(base, rel), encoding)
        total += len(asset)
    return total, loaded


def in_process_us(wsgi_app, path: str, n: int = 2000, headers: dict | None = None) -> float:
    """Best-of-5 mean CPU time per request calling the WSGI app directly (no sockets, no
    gunicorn): steadier than wrk on a busy machine."""
    from werkzeug.test import EnvironBuilder

    environ = EnvironBuilder(path=path, headers=headers or {}).get_environ()
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
        response = send_from_directory(root, path + ".br", mimetype="text/html")
        response.headers["Content-Encoding"] = "br"
        return response

    return app


def without(conf: str, *patterns: str) -> str:
    """The deploy config with the lines (or blocks) matching `patterns` removed."""
    for pattern in patterns:
        conf, count = re.subn(pattern, "", conf, flags=re.MULTILINE | re.DOTALL)
        if not count:
            raise RuntimeError(f"pattern not in the deploy config: {pattern}")
    return conf


def deploy_parts(conf: str) -> dict[str, str]:
    """The deploy config with one part taken out at a time (each still serves the page)."""
    site = r"(location ~ \"\^/\(\?<lavish_slug>[^\n]*\{.*?\n    \})"
    block = re.search(site, conf, flags=re.DOTALL).group(1)

    def in_site(*patterns: str) -> str:
        return conf.replace(block, without(block, *patterns))

    return {
        # (The `suspended` marker is looked for on the 404 path only.)
        "no noindex marker (1 stat)": in_site(
            r"^\s*if \(-f \$document_root/\$lavish_slug/\.\./noindex\) \{.*?\}\n",
        ),
        "no range hand-over": in_site(r"^\s*if \(\$http_range\) \{.*?\}\n"),
        "no headers (4 add_header)": in_site(r"^\s*add_header [^\n]*\n"),
        # Without the symlink protection the brotli module works in place: no .br look-up
        # and hand-over either.
        "no symlink protection (and br in place)": in_site(
            r"^\s*disable_symlinks [^\n]*\n",
            r"^\s*set \$lavish_br \"\";\n.*?error_page 419 = @lavish_br;\n",
        ).replace("    gzip_static on;\n", "    gzip_static on;\n    brotli_static on;\n", 1),
    }


def bytes_section(base: str) -> dict:
    identity, loaded = page_with_assets(base, None)
    br, _ = page_with_assets(base, "br")
    gz, _ = page_with_assets(base, "gzip")
    print(f"1. Bytes: home page + {len(loaded)} files it loads ({', '.join(loaded)})")
    print(f"   identity {identity:,} B; br {br:,} B = {br / identity:.3f} (target <= 0.38) "
          f"{'OK' if br / identity <= 0.38 else 'ABOVE'}; gzip {gz:,} B = {gz / identity:.3f} "
          f"(target <= 0.43) {'OK' if gz / identity <= 0.43 else 'ABOVE'}")  # fmt: skip
    return {"identity": identity, "br": br, "gzip": gz, "files": loaded}


def publish_section(app, demo: Path) -> dict:
    """Publishing the demo site as a new site, with and without compression, best of N."""
    from lavish.extensions import db
    from lavish.hosting import publisher, services, serving

    timings: dict[str, list[float]] = {"with": [], "without": []}
    original = publisher.compressible
    with app.app_context():
        for i in range(PUBLISHES):
            for mode in ("with", "without"):
                publisher.compressible = original if mode == "with" else (lambda name: False)
                try:
                    site = services.create_site(f"pub-{mode}-{i}", "Bench")
                    start = time.perf_counter()
                    services.publish(site, demo)
                    db.session.commit()
                    timings[mode].append(time.perf_counter() - start)
                finally:
                    publisher.compressible = original
    best = {mode: min(values) * 1000 for mode, values in timings.items()}
    files = sum(1 for p in demo.rglob("*") if p.is_file())
    made = sum(1 for p in demo.rglob("*") if p.is_file() and serving.compressible(p.name))
    print(f"3. Publish the demo site ({files} files, {made} compressible), best of {PUBLISHES}: "
          f"with compression {best['with']:.0f} ms, without {best['without']:.0f} ms "
          f"({best['with'] / best['without']:.1f}x)")  # fmt: skip
    return best


def allocated(paths) -> int:
    return sum(os.lstat(p).st_blocks * 512 for p in paths)


def disk_section(app, demo: Path, work: Path) -> dict:
    """VERSIONS versions that each change one page: the disk beyond the first version."""
    from lavish.extensions import db
    from lavish.hosting import services
    from lavish.hosting.layout import sites_root
    from lavish.models import SiteStatus

    folder = work / "disk-site"
    shutil.copytree(demo, folder)
    pages = ["index.html", "about.html", "services.html", "contact.html"]
    with app.app_context():
        site = services.create_site("disk", "Disk")
        services.publish(site, folder)
        services.change_status(site, SiteStatus.ACTIVE)
        db.session.commit()
        versions = sites_root() / "versions" / "disk"
        first = {os.lstat(p).st_ino for p in (versions / "1").rglob("*")}
        start = time.perf_counter()
        for number in range(2, VERSIONS + 2):
            page = folder / pages[number % len(pages)]
            page.write_text(page.read_text().replace("</body>", f"<!-- v{number} --></body>", 1))
            services.publish(site, folder)
            db.session.commit()
    took = time.perf_counter() - start
    seen: set[int] = set(first)
    new_files, new_dirs = [], []
    for path in versions.rglob("*"):
        info = os.lstat(path)
        if info.st_ino in seen:
            continue
        seen.add(info.st_ino)
        (new_dirs if path.is_dir() else new_files).append(path)
    changed = [p for p in new_files if p.name.split(".")[0] + ".html" in pages]
    other = [p for p in new_files if p not in changed]
    growth = allocated(new_files) + allocated(new_dirs)
    changed_bytes = allocated(changed)
    dir_bytes = allocated(new_dirs)
    print(f"4. Disk: {VERSIONS} versions each changing one page ({took:.1f} s): beyond version 1 "
          f"they take {growth:,} B = changed pages with their .gz/.br {changed_bytes:,} B "
          f"({len(changed)} files) + directories {dir_bytes:,} B ({len(new_dirs)}) "
          f"+ anything else {allocated(other):,} B ({len(other)} files); "
          f"one full copy of the site: {allocated((versions / '1').rglob('*')):,} B")  # fmt: skip
    return {"growth": growth, "changed": changed_bytes, "dirs": dir_bytes, "other": len(other)}


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
    browser = {"Accept-Encoding": BROWSER_ENCODING}
    lavish_us = in_process_us(app, f"/{SLUG}/", headers=browser)
    minimal_us = in_process_us(minimal_app(live), f"/{SLUG}/", headers=browser)
    (work / "minimal_app.py").write_text(MINIMAL_APP)

    names = ["deploy", "bare"]
    with app.app_context():
        deploy_conf_for = {}
        ports = {name: free_port() for name in ("deploy", "bare", "flask", "minimal")}
        deploy_conf_for["deploy"] = render_config(
            listen=f"127.0.0.1:{ports['deploy']}", upstream=f"127.0.0.1:{ports['flask']}"
        )
        if PARTS:
            for label, conf in deploy_parts(deploy_conf_for["deploy"]).items():
                ports[label] = free_port()
                deploy_conf_for[label] = conf.replace(
                    f"listen 127.0.0.1:{ports['deploy']}", f"listen 127.0.0.1:{ports[label]}"
                )
                names.append(label)
    processes = [
        gunicorn("wsgi:app", ports["flask"], env, PROJECT_ROOT),
        gunicorn("minimal_app:app", ports["minimal"], {"BENCH_STATIC_ROOT": str(live)}, work),
    ]
    results: dict[str, list[float]] = {name: [] for name in [*names, "flask", "minimal"]}
    cpu: dict[str, list[float]] = {name: [] for name in results}
    report: dict = {}
    try:
        for name in ("flask", "minimal"):
            wait_for_port(ports[name], timeout=30)
        bare_conf = (
            f"server {{\n    listen 127.0.0.1:{ports['bare']};\n    root {live};\n"
            f"    {BARE_SETTINGS}\n}}\n"
        )
        urls = {name: f"http://127.0.0.1:{ports[name]}/{SLUG}/" for name in results}
        urls["bare"] = f"http://127.0.0.1:{ports['bare']}/"
        nginx_workers = {"workers": NGINX_WORKERS}
        from contextlib import ExitStack

        with ExitStack() as stack:
            pids = {"flask": processes[0].pid, "minimal": processes[1].pid}
            for name in names:
                conf = bare_conf if name == "bare" else deploy_conf_for[name]
                folder = work / re.sub(r"\W+", "-", name)
                pids[name] = stack.enter_context(
                    running_nginx(folder, conf, ports[name], **nginx_workers)
                ).pid
            print(f"GET /{SLUG}/ (demo home page, preview state), nproc={os.cpu_count()}, "
                  f"{time.strftime('%F %T')}\n")  # fmt: skip
            report["bytes"] = bytes_section(urls["deploy"])
            same_content(*urls.values())
            for url in urls.values():  # warm up
                subprocess.run([WRK, "-t1", "-c4", "-d1s", url], capture_output=True)
            for round_number in range(1, ROUNDS + 1):
                for group in (names, ["flask", "minimal"]):
                    for name in group:
                        rate, cpu_us = wrk(urls[name], pids[name])
                        results[name].append(rate)
                        cpu[name].append(cpu_us)
                print(
                    f"   round {round_number}/{ROUNDS}: "
                    + ", ".join(f"{n} {results[n][-1]:,.0f}/s {cpu[n][-1]:.0f}µs" for n in results),
                    flush=True,
                )
    finally:
        for process in processes:
            stop(process)

    best = {name: max(values) for name, values in results.items()}
    cpu_us = {name: sorted(values)[len(values) // 2] for name, values in cpu.items()}
    ratio_a = best["deploy"] / best["bare"]
    ratio_b = best["flask"] / best["minimal"]
    print(f"2. Throughput, Accept-Encoding: {BROWSER_ENCODING} (br served), wrk -t1 "
          f"-c{CONNECTIONS} -d{SECONDS}s, best of {ROUNDS} interleaved rounds")  # fmt: skip
    print(f"   (a) Nginx, deploy/nginx/lavish.conf   {best['deploy']:>9,.0f} req/s"
          f"   {cpu_us['deploy']:6.1f} µs CPU/request")  # fmt: skip
    print(f"       bare Nginx, same cache + static   {best['bare']:>9,.0f} req/s"
          f"   {cpu_us['bare']:6.1f} µs CPU/request")  # fmt: skip
    print(f"       ratio {ratio_a:.3f} (target >= 0.95) {'OK' if ratio_a >= 0.95 else 'BELOW'}"
          f"; by CPU per request {cpu_us['bare'] / cpu_us['deploy']:.3f}")  # fmt: skip
    for name in names[2:]:
        saved = cpu_us["deploy"] - cpu_us[name]
        print(f"       deploy, {name:<40} {best[name]:>9,.0f} req/s {cpu_us[name]:6.1f} µs"
              f"  (the part costs {saved:+.1f} µs/request)")  # fmt: skip
    print(f"   (b) Flask fallback, gunicorn -w{WORKERS}     {best['flask']:>9,.0f} req/s"
          f"   {cpu_us['flask']:6.1f} µs CPU/request")  # fmt: skip
    print(f"       minimal send_from_directory (.br) {best['minimal']:>9,.0f} req/s"
          f"   {cpu_us['minimal']:6.1f} µs CPU/request")  # fmt: skip
    print(f"       ratio {ratio_b:.3f} (target >= 0.95) {'OK' if ratio_b >= 0.95 else 'BELOW'}"
          f"; by CPU per request {cpu_us['minimal'] / cpu_us['flask']:.3f}; in-process "
          f"{lavish_us:.0f} vs {minimal_us:.0f} µs = {minimal_us / lavish_us:.2f}")  # fmt: skip
    try:
        report["publish_ms"] = publish_section(app, DEMO_FOLDER)
        report["disk"] = disk_section(app, DEMO_FOLDER, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    out = PROJECT_ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    report.update(
        rounds=results, best=best, ratio_a=ratio_a, ratio_b=ratio_b, cpu_us_per_request=cpu_us,
        in_process_us={"fallback": lavish_us, "minimal": minimal_us},
    )  # fmt: skip
    (out / "hosting.json").write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
