"""payouts

Revision ID: 688b82643dc5
Revises: 829c399076fb
Create Date: 2026-11-28 16:37:20.259521
"""

from alembic import op
import sqlalchemy as sa
import kariya.models.types


revision = '688b82643dc5'
down_revision = '829c399076fb'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('payout_batch',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('period_key', sa.String(length=20), nullable=False),
    sa.Column('period_starts', kariya.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('period_ends', kariya.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('state', sa.String(length=12), nullable=False),
    sa.Column('created_at', kariya.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.String(length=100), nullable=False),
    sa.Column('submitted_by', sa.String(length=100), nullable=True),
    sa.Column('approved_by', sa.String(length=100), nullable=True),
    sa.Column('decision_reason', sa.String(length=500), nullable=True),
    sa.Column('transfer_date', sa.Date(), nullable=True),
    sa.Column('zengin_file', sa.LargeBinary(), nullable=True),
    sa.Column('zengin_sha256', sa.String(length=64), nullable=True),
    sa.CheckConstraint("state IN ('draft', 'submitted', 'approved', 'rejected', 'exported', 'transferred', 'reconciled')", name=op.f('ck_payout_batch_state')),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaign.id'], name=op.f('fk_payout_batch_campaign_id_campaign')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payout_batch'))
    )
    op.create_table('payout_line',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('batch_id', sa.Integer(), nullable=False),
    sa.Column('store_id', sa.Integer(), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.Column('amount', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('reason', sa.String(length=500), nullable=False),
    sa.Column('bank_code', sa.String(length=4), nullable=False),
    sa.Column('branch_code', sa.String(length=3), nullable=False),
    sa.Column('account_type', sa.String(length=10), nullable=False),
    sa.Column('account_number', sa.String(length=7), nullable=False),
    sa.Column('account_holder_kana', sa.String(length=100), nullable=False),
    sa.Column('fee', sa.Integer(), nullable=False),
    sa.CheckConstraint("status IN ('included', 'held', 'transferred', 'failed')", name=op.f('ck_payout_line_status')),
    sa.CheckConstraint('amount >= 0 AND count >= 0 AND fee >= 0', name=op.f('ck_payout_line_amounts')),
    sa.ForeignKeyConstraint(['batch_id'], ['payout_batch.id'], name=op.f('fk_payout_line_batch_id_payout_batch')),
    sa.ForeignKeyConstraint(['store_id'], ['store.id'], name=op.f('fk_payout_line_store_id_store')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payout_line')),
    sa.UniqueConstraint('batch_id', 'store_id', name=op.f('uq_payout_line_batch_id_store_id'))
    )
    op.create_index(op.f('ix_payout_line_batch_id'), 'payout_line', ['batch_id'], unique=False)
    op.create_table('payout_item',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('line_id', sa.Integer(), nullable=False),
    sa.Column('redemption_id', sa.Integer(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['line_id'], ['payout_line.id'], name=op.f('fk_payout_item_line_id_payout_line')),
    sa.ForeignKeyConstraint(['redemption_id'], ['redemption.id'], name=op.f('fk_payout_item_redemption_id_redemption')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payout_item'))
    )
    op.create_index(op.f('ix_payout_item_line_id'), 'payout_item', ['line_id'], unique=False)
    op.create_index('uq_payout_item_active_redemption', 'payout_item', ['redemption_id'], unique=True, postgresql_where=sa.text('active'), sqlite_where=sa.text('active'))


def downgrade():
    op.drop_index('uq_payout_item_active_redemption', table_name='payout_item', postgresql_where=sa.text('active'), sqlite_where=sa.text('active'))
    op.drop_index(op.f('ix_payout_item_line_id'), table_name='payout_item')
    op.drop_table('payout_item')
    op.drop_index(op.f('ix_payout_line_batch_id'), table_name='payout_line')
    op.drop_table('payout_line')
    op.drop_table('payout_batch')
