"""worker web site: logins, invitations, sessions, participant links, skips

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 07:50:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('worker_logins',
    sa.Column('worker_id', sa.String(length=64), sa.ForeignKey('workers.id'), primary_key=True),
    sa.Column('username', sa.String(length=64), nullable=False, unique=True),
    sa.Column('password_hash', sa.String(length=256), nullable=False),
    sa.Column('created_at', sa.Float(), nullable=False),
    )
    op.create_table('invitations',
    sa.Column('code_hash', sa.String(length=64), primary_key=True),
    sa.Column('created_by', sa.String(length=64), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.Column('expires_at', sa.Float(), nullable=True),
    sa.Column('max_uses', sa.Integer(), nullable=False),
    sa.Column('uses', sa.Integer(), nullable=False),
    )
    op.create_table('web_sessions',
    sa.Column('id_hash', sa.String(length=64), primary_key=True),
    sa.Column('worker_id', sa.String(length=64), sa.ForeignKey('workers.id'), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.Column('expires_at', sa.Float(), nullable=False),
    sa.Column('auto_accept', sa.Boolean(), nullable=False),
    )
    op.create_index('ix_web_sessions_worker_id', 'web_sessions', ['worker_id'])
    op.create_table('participant_links',
    sa.Column('code', sa.String(length=64), primary_key=True),
    sa.Column('requester_id', sa.String(length=64), sa.ForeignKey('requesters.id'), nullable=False),
    sa.Column('hit_type_id', sa.String(length=64), nullable=False),
    sa.Column('label', sa.Text(), nullable=True),
    sa.Column('completion_code', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    )
    op.create_index('ix_participant_links_requester_id', 'participant_links', ['requester_id'])
    op.create_table('participants',
    sa.Column('worker_id', sa.String(length=64), sa.ForeignKey('workers.id'), primary_key=True),
    sa.Column('link_code', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.Float(), nullable=False),
    )
    op.create_index('ix_participants_link_code', 'participants', ['link_code'])
    op.create_table('worker_skips',
    sa.Column('worker_id', sa.String(length=64), primary_key=True),
    sa.Column('hit_id', sa.String(length=64), primary_key=True),
    sa.Column('created_at', sa.Float(), nullable=False),
    )


def downgrade() -> None:
    for table in ('worker_skips', 'participants', 'participant_links', 'web_sessions', 'invitations', 'worker_logins'):
        op.drop_table(table)
