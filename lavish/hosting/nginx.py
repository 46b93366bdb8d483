"""Render deploy/nginx/lavish.conf for a configuration, and run a throwaway Nginx with it (the
parity test and the benchmark use the very same file as production)."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

from flask import current_app

from lavish.config import PROJECT_ROOT
from lavish.hosting.serving import CHARSET_TYPES, MIME_TYPES_FILE, compressible, content_types
from lavish.hosting.slugs import RESERVED_SLUGS, SLUG_PATTERN

TEMPLATE = PROJECT_ROOT / "deploy" / "nginx" / "lavish.conf"
STATIC_ROOT = PROJECT_ROOT / "lavish" / "static"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
# Debian's package libnginx-mod-http-brotli-static (its nginx.conf loads it from modules-enabled/;
# the throwaway Nginx below loads it itself).
BROTLI_MODULES = (
    "/usr/lib/nginx/modules/ngx_http_brotli_static_module.so",
    "/usr/share/nginx/modules/ngx_http_brotli_static_module.so",
)


def brotli_module() -> str | None:
    return next((path for path in BROTLI_MODULES if os.path.exists(path)), None)


def render_config(
    *,
    listen: str,
    upstream: str,
    server_name: str | None = None,
    sites_root: str | Path | None = None,
    sites_host: str | None = None,
    template: Path = TEMPLATE,
) -> str:
    """The template with every @PLACEHOLDER@ filled; raises if one is left."""
    config = current_app.config
    sites_root = Path(sites_root or config["SITES_ROOT"]).resolve()
    sites_host = sites_host if sites_host is not None else config.get("SITES_HOST")
    portal_host = server_name or urlsplit(config["PUBLIC_URL"]).hostname or "_"
    text = template.read_text()
    if sites_host:
        text = text.replace("# @PORTAL_BEGIN", "#").replace("# @PORTAL_END", "#")
    else:
        text = re.sub(r"# @PORTAL_BEGIN.*?# @PORTAL_END\n", "", text, flags=re.DOTALL)
    from lavish.domains.names import own_hosts
    from lavish.domains.publish import ensure_files

    # For the $lavish_host_ours map (localhost and loopback addresses are in it already).
    ours = sorted(
        {h.lower() for h in [*own_hosts(config), portal_host, sites_host or "_"]}
        - {"_", "localhost"}
    )

    values = {
        "DOMAINS_DIR": str(ensure_files(sites_root / "domains")),
        "LISTEN": listen,
        "UPSTREAM": upstream,
        "SITES_HOST": sites_host or "_",
        "SITES_DEFAULT": "" if sites_host else "default_server",
        "OWN_HOSTS": "\n".join(
            f'    "{f"[{host}]" if ":" in host else host}" 1;'
            for host in ours
            if re.fullmatch(r"[a-z0-9.:_-]+", host) and not host.endswith(".localhost")
        ),
        "PORTAL_HOST": portal_host,
        "SITES_ROOT": str(sites_root),
        "MIME_TYPES": str(MIME_TYPES_FILE),
        "STATIC_ROOT": str(STATIC_ROOT),
        "CHARSET_TYPES": " ".join(t for t in CHARSET_TYPES if t != "text/html"),
        "COMPRESSIBLE_EXTENSIONS": "|".join(
            sorted(re.escape(ext) for ext in content_types() if compressible(f"x.{ext}"))
        ),
        "SLUG": SLUG_PATTERN,
        "RESERVED": "|".join(re.escape(word) for word in sorted(RESERVED_SLUGS)),
        "RESERVED_LOCATIONS": "\n".join(
            # "= /word" too: else Nginx answers /word itself with a 301 to /word/.
            f"    location ^~ /{word}/ {{ proxy_pass http://lavish_app; }}\n"
            f"    location = /{word} {{ proxy_pass http://lavish_app; }}"
            for word in sorted(RESERVED_SLUGS)
            if word not in ("static", "preview")  # served from disk below
        ),
    }
    for name, value in values.items():
        text = text.replace(f"@{name}@", value)
    if left := re.findall(r"@[A-Z_]+@", text):
        raise ValueError(f"unfilled placeholders in {template}: {sorted(set(left))}")
    return text.replace(" ;", ";")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port}")


def main_config(workdir: Path, server_conf: str, *, workers: int | str = 1) -> str:
    """A complete nginx.conf around one http-level snippet, with pid, logs and temp files in
    `workdir` (so it runs next to other Nginx instances, as root or not)."""
    for sub in ("logs", "tmp"):
        (workdir / sub).mkdir(parents=True, exist_ok=True)
    (workdir / "site.conf").write_text(server_conf)
    temp = workdir / "tmp"
    user = "user root;\n" if os.geteuid() == 0 else ""
    module = brotli_module()
    if module is None:
        raise RuntimeError(
            "Nginx's brotli static module is missing: apt-get install "
            "libnginx-mod-http-brotli-static (make system-deps)"
        )
    # pcre_jit: the deploy config's regex locations and maps run compiled (set it in the
    # main context of /etc/nginx/nginx.conf too).
    return f"""load_module {module};
pcre_jit on;
{user}worker_processes {workers};
pid {workdir}/nginx.pid;
error_log {workdir}/logs/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 100000;
    client_body_temp_path {temp}/body;
    proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi;
    scgi_temp_path {temp}/scgi;
    include {workdir}/site.conf;
}}
"""


@contextmanager
def running_nginx(
    workdir: Path, server_conf: str, port: int, *, workers: int | str = 1
) -> Iterator[subprocess.Popen]:
    """Start `nginx -g 'daemon off;'` with `server_conf`, wait for `port`, stop it after."""
    workdir.mkdir(parents=True, exist_ok=True)
    conf = workdir / "nginx.conf"
    conf.write_text(main_config(workdir, server_conf, workers=workers))
    check = subprocess.run(
        [NGINX, "-t", "-q", "-c", str(conf), "-p", str(workdir)], capture_output=True, text=True
    )
    if check.returncode != 0:
        raise RuntimeError(f"nginx -t failed:\n{check.stderr}")
    process = subprocess.Popen(
        [NGINX, "-c", str(conf), "-p", str(workdir), "-g", "daemon off;"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_for_port(port)
        yield process
    finally:
        process.send_signal(signal.SIGQUIT)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
