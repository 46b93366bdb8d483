"""Serving hosted sites (Flask fallback; Nginx serves the same files in production)."""
