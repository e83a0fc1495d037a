"""login limits: throttled attempts marked, the secretariat's unlocks recorded (issue 14)

Revision ID: c41f7e2a9b6d
Revises: 3cb6e2fb1de3
Create Date: 2026-12-02 10:00:00.000000
"""

from alembic import op
import sqlalchemy as sa
import kariya.models.types


revision = 'c41f7e2a9b6d'
down_revision = '3cb6e2fb1de3'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('login_attempt') as batch:
        batch.add_column(
            sa.Column('throttled', sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    op.create_table('login_unlock',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('unlocked_by', sa.String(length=64), nullable=False),
    sa.Column('reason', sa.String(length=500), nullable=False),
    sa.Column('at', kariya.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_login_unlock'))
    )
    op.create_index('ix_login_unlock_username_at', 'login_unlock', ['username', 'at'], unique=False)


def downgrade():
    op.drop_index('ix_login_unlock_username_at', table_name='login_unlock')
    op.drop_table('login_unlock')
    with op.batch_alter_table('login_attempt') as batch:
        batch.drop_column('throttled')
