"""
The email digest: subscriptions with double opt-in, and the once-a-day (or
once-a-week) email of trending papers plus new matches for saved searches.

- `subscriptions`: subscribe, confirm, preferences, unsubscribe, signed tokens;
- `schedule`: whose digest is due now (pure due-time rules);
- `scheduler`: the loop `paperfeed serve` runs to send what is due;
- `compose`: what goes in each digest, shared work across subscribers;
- `render`: multipart text + HTML messages from `templates/`;
- `mail`: SMTP with TLS, retries, backoff and a rate limit;
- `outbox`: the exactly-once send job behind `paperfeed digest send`;
- `commands`: the `subscribe` and `digest` CLI commands.
The web routes (`/subscribe`, `/unsubscribe`, `/preferences`, `/digest/preview`)
are in `paperfeed.web.subscribe_pages`.
"""
