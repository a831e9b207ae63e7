"""
The digest scheduler embedded in `paperfeed serve`: every few minutes it runs
the same send job as `paperfeed digest send`, in a worker thread, while the app
serves.  The send job's lock makes several workers, or a cron job at the same
time, harmless.  Who is due is decided by `paperfeed.digest.schedule`; this
module only keeps the loop going.  It does not start when e-mail is refused
(`paperfeed.siteurl.mail_site_url`: no `site_url` on a non-loopback server).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from paperfeed import settings, siteurl
from paperfeed.digest import outbox

log = logging.getLogger("paperfeed.digest")

CHECK_EVERY_SECONDS = 300


def enabled() -> bool:
    return settings.value("digest_scheduler")


async def run_forever(engine, every: float = CHECK_EVERY_SECONDS) -> None:
    """Send due digests now and then every `every` seconds, until cancelled."""
    while True:
        try:
            report = await asyncio.to_thread(outbox.run, engine)
            if report.sent or report.failed:
                log.info("digest: %s", report.line())
        except Exception:  # the scheduler must outlive a bad run; the next one retries
            log.exception("digest: scheduled run failed")
        await asyncio.sleep(every)


def start_scheduler(app) -> asyncio.Task | None:
    """Start the digest loop for `app` (uses `app.state.engine`) when `digest_scheduler` is on.

    Call from inside the running event loop (a lifespan or startup hook);
    cancel the returned task on shutdown.
    """
    if not enabled():
        return None
    refusal = siteurl.mail_refusal()
    if refusal:
        # `paperfeed serve` has said why at start-up; a server started some other way says it here
        log.log(logging.DEBUG if siteurl.listen_url() else logging.WARNING, "digest scheduler off: %s", refusal)
        return None
    task = asyncio.get_running_loop().create_task(run_forever(app.state.engine))
    app.state.digest_scheduler = task
    return task


@contextlib.asynccontextmanager
async def lifespan(app):
    """A FastAPI lifespan that runs the digest scheduler while the app serves."""
    task = start_scheduler(app)
    try:
        yield
    finally:
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
