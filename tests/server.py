"""
A real HTTP server for tests that need one (a real client such as
`huggingface_hub`, a browser): uvicorn serving an app on 127.0.0.1 at a free
port, in a background thread, for the length of a `with` block.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn


@contextmanager
def serve(app, timeout: float = 20.0) -> Iterator[str]:
    """Serve `app` and yield its base URL, e.g. `http://127.0.0.1:53211`."""
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="test-uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("uvicorn exited before it started")
        if time.monotonic() > deadline:
            server.should_exit = True
            raise TimeoutError("uvicorn did not start")
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout)


def paperfeed_app(engine):
    """The site's app for `engine`; only the API and feed routers while `create_app`
    does not exist yet."""
    try:
        from paperfeed.web.app import create_app
    except ImportError:
        from fastapi import FastAPI

        from paperfeed.web import api, feeds

        app = FastAPI()
        app.state.engine = engine
        app.include_router(api.router)
        app.include_router(feeds.router)
        return app
    return create_app(engine)
