"""
paperfeed for agents: a Model Context Protocol server (`paperfeed mcp`), a
process of its own beside the web workers, built on the official `mcp` SDK
(the `mcp` extra).

`public` holds the tools anyone may call (search, a paper, a day's list,
similar papers), `personal` those that read a reader's library and For you
with their access token, `site` what every call needs (the database, the
token, refusals as tool errors), `server` the SDK server and its transports
(stdio, Streamable HTTP), `commands` the command.  Named `mcp_server` so it
never stands in for the SDK's own `mcp` package.
"""
