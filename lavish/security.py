"""Security headers on every response (Nginx adds the same to the static files it serves).

Portal pages get a strict Content-Security-Policy: scripts, styles, images and fetches from the
portal only (no inline code, no eval: htmx's eval features are off in base.html), frames from
the portal and the hosted sites' host, and no page of the portal may be framed anywhere.
Hosted sites are customers' own pages: they get only headers that cannot break them (nosniff, a
referrer policy) and stay frameable (the offer page and the console show them in frames).
A view that needs another policy (the staff's mail preview, an edit request's draft, both shown
in frames) sets its own Content-Security-Policy, and with it decides about framing.
"""

from __future__ import annotations

from flask import Flask, Response, request

from lavish.urls import sites_origin

REFERRER_POLICY = "strict-origin-when-cross-origin"

# A rendered mail shown to staff in a sandboxed frame of the console: mails are styled inline,
# may show images, never run anything, and are framed only by the console itself.
MAIL_PREVIEW_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data: https:; "
    "frame-ancestors 'self'; base-uri 'none'; form-action 'none'; sandbox"
)


def portal_policy(public_url: str, sites_host: str | None) -> str:
    """The portal's CSP. Frames may show hosted sites: from the portal itself when they share
    its host, or from SITES_HOST. (No form-action: the purchase form redirects to the payment
    provider's checkout, and browsers apply form-action to that redirect too.)"""
    frames = " ".join(filter(None, ["'self'", sites_origin(public_url, sites_host)]))
    return (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        f"font-src 'self'; connect-src 'self'; frame-src {frames}; object-src 'none'; "
        "base-uri 'self'; frame-ancestors 'none'"
    )


def init_app(app: Flask) -> None:
    policy = portal_policy(app.config["PUBLIC_URL"], app.config.get("SITES_HOST"))

    @app.after_request
    def _security_headers(response: Response) -> Response:
        headers = response.headers
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("Referrer-Policy", REFERRER_POLICY)
        # ("lavish.hosted": a site served on its custom domain, lavish/domains/host.py.)
        if request.blueprint == "hosting" or request.environ.get("lavish.hosted"):
            return response  # customers' sites: nothing that could break them
        if "Content-Security-Policy" in headers:
            return response  # the view's own policy (a mail preview, a draft) decides framing
        headers["Content-Security-Policy"] = policy
        headers.setdefault("X-Frame-Options", "DENY")  # for browsers without frame-ancestors
        return response
