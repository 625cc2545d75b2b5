"""requester console projects and CSV batches

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 16:50:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('console_projects',
    sa.Column('id', sa.String(length=32), primary_key=True),
    sa.Column('requester_id', sa.String(length=64), sa.ForeignKey('requesters.id'), nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('properties', sa.Text(), nullable=False),
    sa.Column('template', sa.Text(), nullable=False),
    sa.Column('template_kind', sa.String(length=32), nullable=False),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.Column('updated_at', sa.Float(), nullable=False),
    sa.UniqueConstraint('requester_id', 'name', name='uq_console_projects_name'),
    )
    op.create_table('console_batches',
    sa.Column('id', sa.String(length=32), primary_key=True),
    sa.Column('requester_id', sa.String(length=64), sa.ForeignKey('requesters.id'), nullable=False),
    sa.Column('project_id', sa.String(length=32), sa.ForeignKey('console_projects.id'), nullable=False),
    sa.Column('name', sa.String(length=256), nullable=False),
    sa.Column('properties', sa.Text(), nullable=False),
    sa.Column('template', sa.Text(), nullable=False),
    sa.Column('template_kind', sa.String(length=32), nullable=False),
    sa.Column('columns', sa.Text(), nullable=False),
    sa.Column('row_count', sa.Integer(), nullable=False),
    sa.Column('hit_type_id', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.Column('published_at', sa.Float(), nullable=True),
    sa.Column('cancelled_at', sa.Float(), nullable=True),
    )
    op.create_index('ix_console_batches_requester_id', 'console_batches', ['requester_id'])
    op.create_index('ix_console_batches_project_id', 'console_batches', ['project_id'])
    op.create_table('console_batch_rows',
    sa.Column('batch_id', sa.String(length=32), sa.ForeignKey('console_batches.id'), primary_key=True),
    sa.Column('row_index', sa.Integer(), primary_key=True),
    sa.Column('row', sa.Text(), nullable=False),
    sa.Column('hit_id', sa.String(length=64), nullable=True),
    )
    op.create_index('ix_console_batch_rows_hit_id', 'console_batch_rows', ['hit_id'])


def downgrade() -> None:
    for table in ('console_batch_rows', 'console_batches', 'console_projects'):
        op.drop_table(table)
