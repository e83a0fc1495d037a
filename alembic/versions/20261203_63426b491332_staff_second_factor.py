"""staff second factor: TOTP secrets, recovery codes, the secretariat's resets, code attempts
(issue 14)

Revision ID: 63426b491332
Revises: c4e1a9d27b35
Create Date: 2026-12-03 10:00:00.000000
"""

from alembic import op
import sqlalchemy as sa
import kariya.models.types


revision = '63426b491332'
down_revision = 'c4e1a9d27b35'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('staff_user') as batch:
        batch.add_column(sa.Column('totp_secret', sa.String(length=255), nullable=True))
        batch.add_column(
            sa.Column(
                'totp_enabled_at', kariya.models.types.UTCDateTime(timezone=True), nullable=True
            )
        )
        batch.add_column(sa.Column('totp_last_step', sa.BigInteger(), nullable=True))
    with op.batch_alter_table('login_attempt') as batch:
        batch.add_column(
            sa.Column('step', sa.String(length=10), server_default='password', nullable=False)
        )
        batch.add_column(
            sa.Column('awaiting_code', sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    op.create_table('staff_recovery_code',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('staff_user_id', sa.Integer(), nullable=False),
    sa.Column('code_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', kariya.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('used_at', kariya.models.types.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['staff_user_id'], ['staff_user.id'], name=op.f('fk_staff_recovery_code_staff_user_id_staff_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_staff_recovery_code')),
    sa.UniqueConstraint('staff_user_id', 'code_hash', name=op.f('uq_staff_recovery_code_staff_user_id_code_hash'))
    )
    op.create_table('second_factor_reset',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('reset_by', sa.String(length=64), nullable=False),
    sa.Column('reason', sa.String(length=500), nullable=False),
    sa.Column('at', kariya.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_second_factor_reset'))
    )
    op.create_index('ix_second_factor_reset_username_at', 'second_factor_reset', ['username', 'at'], unique=False)


def downgrade():
    op.drop_index('ix_second_factor_reset_username_at', table_name='second_factor_reset')
    op.drop_table('second_factor_reset')
    op.drop_table('staff_recovery_code')
    with op.batch_alter_table('login_attempt') as batch:
        batch.drop_column('awaiting_code')
        batch.drop_column('step')
    with op.batch_alter_table('staff_user') as batch:
        batch.drop_column('totp_last_step')
        batch.drop_column('totp_enabled_at')
        batch.drop_column('totp_secret')
