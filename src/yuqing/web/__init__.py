"""The web desk and API: app factory, layout templates, static assets."""
