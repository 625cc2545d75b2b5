"""quality control: actions on workers and HITs, and workers' returns and abandons

Revision ID: 0003
Revises: 0002
"""

from alembic import op
import sqlalchemy as sa

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "qc_actions",
        sa.Column("key", sa.String(length=255), primary_key=True),
        sa.Column("rule", sa.Text(), nullable=False),
        sa.Column("worker_id", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("target", sa.String(length=64), nullable=True),
        sa.Column("params", sa.Text(), nullable=False),
        sa.Column("why", sa.Text(), nullable=False),
        sa.Column("decided_at", sa.Float(), nullable=False),
        sa.Column("applied_at", sa.Float(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
    )
    op.create_index("ix_qc_actions_worker_id", "qc_actions", ["worker_id"])
    op.create_table(
        "worker_events",
        sa.Column("assignment_id", sa.String(length=64), primary_key=True),
        sa.Column("worker_id", sa.String(length=64), nullable=False),
        sa.Column("hit_id", sa.String(length=64), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("time", sa.Float(), nullable=False),
    )
    op.create_index("ix_worker_events_worker_id", "worker_events", ["worker_id"])


def downgrade() -> None:
    op.drop_index("ix_worker_events_worker_id", table_name="worker_events")
    op.drop_table("worker_events")
    op.drop_index("ix_qc_actions_worker_id", table_name="qc_actions")
    op.drop_table("qc_actions")
