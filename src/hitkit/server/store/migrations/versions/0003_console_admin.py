"""requester console and administration: staff logins and sessions, login failures (rate limiting)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 11:50:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('staff_logins',
    sa.Column('role', sa.String(length=16), primary_key=True),
    sa.Column('subject_id', sa.String(length=64), primary_key=True),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('password_hash', sa.String(length=256), nullable=False),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.UniqueConstraint('role', 'username', name='uq_staff_logins_username'),
    )
    op.create_table('staff_sessions',
    sa.Column('id_hash', sa.String(length=64), primary_key=True),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('subject_id', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.Column('expires_at', sa.Float(), nullable=False),
    )
    op.create_index('ix_staff_sessions_subject_id', 'staff_sessions', ['subject_id'])
    op.create_table('login_failures',
    sa.Column('seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), primary_key=True, autoincrement=True),
    sa.Column('form', sa.String(length=16), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('ip', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.Float(), nullable=False),
    )
    op.create_index('ix_login_failures_username', 'login_failures', ['username', 'created_at'])
    op.create_index('ix_login_failures_ip', 'login_failures', ['ip', 'created_at'])


def downgrade() -> None:
    for table in ('login_failures', 'staff_sessions', 'staff_logins'):
        op.drop_table(table)
