"""live tasks: live_runs, live_agents, live_events

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 17:00:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def _seq() -> sa.Column:
    return sa.Column('seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), primary_key=True, autoincrement=True)


def upgrade() -> None:
    op.create_table('live_runs',
    sa.Column('id', sa.String(length=64), primary_key=True),
    sa.Column('requester_id', sa.String(length=64), sa.ForeignKey('requesters.id'), nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('config', sa.Text(), nullable=False),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.Column('requester_connected', sa.Boolean(), nullable=False),
    sa.Column('requester_seen_at', sa.Float(), nullable=True),
    )
    op.create_index('ix_live_runs_requester_id', 'live_runs', ['requester_id'])
    op.create_table('live_agents',
    sa.Column('assignment_id', sa.String(length=64), primary_key=True),
    sa.Column('run_id', sa.String(length=64), sa.ForeignKey('live_runs.id'), nullable=False),
    sa.Column('worker_id', sa.String(length=64), nullable=False),
    sa.Column('hit_id', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=24), nullable=False),
    sa.Column('world_id', sa.String(length=64), nullable=True),
    sa.Column('outcome', sa.String(length=32), nullable=True),
    sa.Column('state', sa.Text(), nullable=False),
    sa.Column('connected', sa.Boolean(), nullable=False),
    sa.Column('joined_at', sa.Float(), nullable=False),
    sa.Column('updated_at', sa.Float(), nullable=False),
    )
    op.create_index('ix_live_agents_run_id', 'live_agents', ['run_id'])
    op.create_index('ix_live_agents_worker_id', 'live_agents', ['worker_id'])
    op.create_table('live_events',
    _seq(),
    sa.Column('run_id', sa.String(length=64), nullable=False),
    sa.Column('world_id', sa.String(length=64), nullable=True),
    sa.Column('assignment_id', sa.String(length=64), nullable=True),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('created_at', sa.Float(), nullable=False),
    )
    op.create_index('ix_live_events_assignment_id', 'live_events', ['assignment_id'])
    op.create_index('ix_live_events_run', 'live_events', ['run_id', 'seq'])
    op.create_index('ix_live_events_world', 'live_events', ['run_id', 'world_id'])


def downgrade() -> None:
    for table in ('live_events', 'live_agents', 'live_runs'):
        op.drop_table(table)
