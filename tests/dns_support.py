"""A real DNS server on loopback for the domain checks (dnslib): each test sets its zones.

    server.zones = {
        "example.com": [("A", "203.0.113.10"), ("CAA", '0 issue "letsencrypt.org"')],
        "_lavish-challenge.example.com": [("TXT", "lavish-verify=…")],
    }
    server.silent = {"slow.example"}   # never answers: the check times out

Names are lower case without the trailing dot. A name that has no records and no names below
it answers NXDOMAIN; one with a CNAME answers it (and the target's records when the target is a
zone here) for every other type, as a recursive resolver would.
"""

from __future__ import annotations

import socket
import socketserver
import threading

from dnslib import AAAA, CAA, CNAME, QTYPE, RCODE, RR, SOA, TXT, A, DNSRecord


def _rdata(rtype: str, value: str):
    if rtype == "A":
        return A(value)
    if rtype == "AAAA":
        return AAAA(value)
    if rtype == "CNAME":
        return CNAME(value)
    if rtype == "TXT":
        return TXT(value)
    if rtype == "CAA":
        flags, tag, text = value.split(" ", 2)
        return CAA(int(flags), tag, text.strip('"'))
    if rtype == "SOA":
        return SOA("ns1.test", "admin.test", (1, 3600, 600, 86400, 300))
    raise ValueError(rtype)


class LoopbackDNS:
    def __init__(self) -> None:
        self.zones: dict[str, list[tuple[str, str]]] = {}
        self.silent: set[str] = set()
        self.queries: list[tuple[str, str]] = []
        server = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                data, sock = self.request
                reply = server.answer(data)
                if reply is not None:
                    sock.sendto(reply, self.client_address)

        self._server = socketserver.ThreadingUDPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def reset(self) -> None:
        self.zones = {}
        self.silent = set()
        self.queries = []

    def answer(self, data: bytes) -> bytes | None:
        request = DNSRecord.parse(data)
        qname = str(request.q.qname).rstrip(".").lower()
        qtype = QTYPE[request.q.qtype]
        self.queries.append((qname, qtype))
        if qname in self.silent:
            return None
        reply = request.reply()
        records = self.zones.get(qname)
        if records is None:
            if not any(name.endswith("." + qname) for name in self.zones):
                reply.header.rcode = RCODE.NXDOMAIN
            return reply.pack()
        cnames = [value for rtype, value in records if rtype == "CNAME"]
        if cnames and qtype != "CNAME":
            reply.add_answer(RR(qname, QTYPE.CNAME, rdata=CNAME(cnames[0]), ttl=60))
            target = cnames[0].rstrip(".").lower()
            for rtype, value in self.zones.get(target, []):
                if rtype == qtype:
                    reply.add_answer(RR(target, getattr(QTYPE, rtype), rdata=_rdata(rtype, value)))
            return reply.pack()
        for rtype, value in records:
            if rtype == qtype:
                reply.add_answer(
                    RR(qname, getattr(QTYPE, rtype), rdata=_rdata(rtype, value), ttl=60)
                )
        return reply.pack()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def closed_port() -> int:
    """A loopback port nothing listens on (a TLS probe there fails at once)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
