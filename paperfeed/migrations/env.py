"""Alembic environment: runs migrations on the connection `paperfeed.db.upgrade` hands in,
or on `sqlalchemy.url` when driven by the `alembic` command line."""

from alembic import context
from sqlalchemy import create_engine

from paperfeed.models import Base

config = context.config
target_metadata = Base.metadata


def run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite needs table copies to ALTER
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    run(connection)
else:
    engine = create_engine(config.get_main_option("sqlalchemy.url"))
    with engine.begin() as conn:
        run(conn)
