"""``mixformerv2 app``: a local web page that tracks a user's clip (or the sample clip) in the browser.

``clips`` turns uploads (a video, a zip of frames, the sample clip) into trackable clips; ``jobs`` runs
tracking jobs through the library's one tracking loop (``tracking.run.track_source``) and renders their
results; ``server`` serves the page (``static/``) and its JSON API with Python's standard library, so the
app needs nothing beyond the package's own dependencies and fetches nothing from the internet.
"""
from .server import AppConfig, AppServer, serve

__all__ = ["AppConfig", "AppServer", "serve"]
