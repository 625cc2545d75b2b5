"""Storage: SQLAlchemy Core tables, engine set-up, Alembic migrations. SQLite (WAL) or PostgreSQL."""
