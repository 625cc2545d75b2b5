"""gold rows, aggregation runs, aggregated labels and worker skills

Revision ID: 0002
Revises: 0001
"""

from alembic import op
import sqlalchemy as sa

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "gold_rows",
        sa.Column("batch_id", sa.String(length=64), sa.ForeignKey("batches.id"), primary_key=True),
        sa.Column("row_index", sa.Integer(), primary_key=True),
        sa.Column("expected", sa.Text(), nullable=False),
        sa.Column("feedback", sa.Text(), nullable=True),
    )
    op.create_table(
        "aggregations",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("field", sa.Text(), nullable=False),
        sa.Column("method", sa.String(length=32), nullable=False),
        sa.Column("params", sa.Text(), nullable=False),
        sa.Column("answers", sa.Integer(), nullable=False),
        sa.Column("tasks", sa.Integer(), nullable=False),
        sa.Column("workers", sa.Integer(), nullable=False),
    )
    op.create_index("ix_aggregations_field", "aggregations", ["field", "id"])
    op.create_table(
        "aggregated_labels",
        sa.Column("aggregation_id", sa.Integer(), sa.ForeignKey("aggregations.id"), primary_key=True),
        sa.Column("batch_id", sa.String(length=64), primary_key=True),
        sa.Column("row_index", sa.Integer(), primary_key=True),
        sa.Column("label", sa.Text(), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("answers", sa.Integer(), nullable=False),
        sa.Column("agreement", sa.Float(), nullable=False),
    )
    op.create_table(
        "worker_skills",
        sa.Column("aggregation_id", sa.Integer(), sa.ForeignKey("aggregations.id"), primary_key=True),
        sa.Column("worker_id", sa.String(length=64), primary_key=True),
        sa.Column("skill", sa.Float(), nullable=False),
        sa.Column("answers", sa.Integer(), nullable=False),
        sa.Column("agreement", sa.Float(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("worker_skills")
    op.drop_table("aggregated_labels")
    op.drop_index("ix_aggregations_field", table_name="aggregations")
    op.drop_table("aggregations")
    op.drop_table("gold_rows")
