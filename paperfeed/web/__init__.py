"""
The web site: server-rendered pages (Jinja2 templates, a little htmx), accounts
and community actions, the Hugging Face-compatible JSON API and feeds, all in
one FastAPI app built by `paperfeed.web.app.create_app`.
"""
