"""
Operating a paperfeed install: the commands an operator runs by hand or from a
timer, apart from the pipeline itself (ingest, index, digest).

- `backup`: consistent backups and restores of the database;
- `migrate`: copying a whole database to another one (SQLite to PostgreSQL);
- `export`: every stored paper as JSON lines or Parquet;
- `stats`: what the database holds, in numbers;
- `demo`: a fresh data directory loaded with the bundled sample papers;
- `commands`: their CLI commands (`backup`, `restore`, `migrate-db`, `export`,
  `stats`, `demo`).
"""
