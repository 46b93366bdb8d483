"""A hosted site's address is built in one place (lavish.urls.site_url)."""

from __future__ import annotations

from lavish.urls import site_url


def test_a_site_is_on_the_portal_without_a_sites_host(app):
    app.config.update(PUBLIC_URL="https://lavish.example", SITES_HOST=None)
    assert site_url("la-plumbing-pros") == "https://lavish.example/la-plumbing-pros/"


def test_a_site_is_on_the_sites_host_with_the_portals_scheme(app):
    app.config.update(PUBLIC_URL="https://lavish.example", SITES_HOST="sites.lavish.example")
    assert site_url("la-plumbing-pros") == "https://sites.lavish.example/la-plumbing-pros/"


def test_the_offer_page_frames_the_site_where_it_is_served(app, client):
    from lavish.extensions import db
    from lavish.models import Site

    db.session.add(Site(slug="la-plumbing-pros", business_name="LA Plumbing Pros"))
    db.session.commit()
    app.config.update(SITES_HOST="sites.lavish.example")
    html = client.get("/sites/la-plumbing-pros").get_data(as_text=True)
    assert 'src="http://sites.lavish.example/la-plumbing-pros/"' in html
