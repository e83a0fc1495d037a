"""redemptions

Revision ID: 829c399076fb
Revises: 1b39f2dc8a9a
Create Date: 2026-11-28 16:31:29.073422
"""

from alembic import op
import sqlalchemy as sa
import kariya.models.types


revision = '829c399076fb'
down_revision = '1b39f2dc8a9a'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('redemption',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('store_id', sa.Integer(), nullable=False),
    sa.Column('round_id', sa.Integer(), nullable=False),
    sa.Column('coupons', sa.Integer(), nullable=False),
    sa.Column('amount', sa.Integer(), nullable=False),
    sa.Column('bill_amount', sa.Integer(), nullable=False),
    sa.Column('confirmation_code', sa.String(length=8), nullable=False),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.Column('used_at', kariya.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('voided_at', kariya.models.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('voided_by', sa.String(length=100), nullable=True),
    sa.Column('void_reason', sa.String(length=500), nullable=True),
    sa.CheckConstraint("state IN ('confirmed', 'voided')", name=op.f('ck_redemption_state')),
    sa.CheckConstraint('bill_amount > 0', name=op.f('ck_redemption_bill_positive')),
    sa.CheckConstraint('coupons > 0', name=op.f('ck_redemption_coupons_positive')),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], name=op.f('fk_redemption_person_id_person')),
    sa.ForeignKeyConstraint(['round_id'], ['round.id'], name=op.f('fk_redemption_round_id_round')),
    sa.ForeignKeyConstraint(['store_id'], ['store.id'], name=op.f('fk_redemption_store_id_store')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_redemption'))
    )
    op.create_index('ix_redemption_person_used_at', 'redemption', ['person_id', 'used_at'], unique=False)
    op.create_index('ix_redemption_store_used_at', 'redemption', ['store_id', 'used_at'], unique=False)
    op.create_table('store_use',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('store_id', sa.Integer(), nullable=False),
    sa.Column('round_id', sa.Integer(), nullable=False),
    sa.Column('used', sa.Integer(), nullable=False),
    sa.CheckConstraint('used >= 0', name=op.f('ck_store_use_used_not_negative')),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], name=op.f('fk_store_use_person_id_person')),
    sa.ForeignKeyConstraint(['round_id'], ['round.id'], name=op.f('fk_store_use_round_id_round')),
    sa.ForeignKeyConstraint(['store_id'], ['store.id'], name=op.f('fk_store_use_store_id_store')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_store_use')),
    sa.UniqueConstraint('person_id', 'store_id', 'round_id', name=op.f('uq_store_use_person_id_store_id_round_id'))
    )
    op.add_column('campaign', sa.Column('void_window_minutes', sa.Integer(), server_default='10', nullable=False))
    # batch mode: SQLite (the embedded default) cannot ALTER constraints in place
    with op.batch_alter_table('coupon') as batch:
        batch.add_column(sa.Column('redemption_id', sa.Integer(), nullable=True))
        batch.create_index(batch.f('ix_coupon_redemption_id'), ['redemption_id'], unique=False)
        batch.create_foreign_key(batch.f('fk_coupon_redemption_id_redemption'), 'redemption', ['redemption_id'], ['id'])


def downgrade():
    with op.batch_alter_table('coupon') as batch:
        batch.drop_constraint(batch.f('fk_coupon_redemption_id_redemption'), type_='foreignkey')
        batch.drop_index(batch.f('ix_coupon_redemption_id'))
        batch.drop_column('redemption_id')
    op.drop_column('campaign', 'void_window_minutes')
    op.drop_table('store_use')
    op.drop_index('ix_redemption_store_used_at', table_name='redemption')
    op.drop_index('ix_redemption_person_used_at', table_name='redemption')
    op.drop_table('redemption')
