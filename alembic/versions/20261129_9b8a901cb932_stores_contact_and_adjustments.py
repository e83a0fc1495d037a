"""stores contact and adjustments

Revision ID: 9b8a901cb932
Revises: 688b82643dc5
Create Date: 2026-11-29 02:49:33.148912
"""

from alembic import op
import sqlalchemy as sa
import kariya.models.types


revision = '9b8a901cb932'
down_revision = '688b82643dc5'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('store_notice',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=100), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('created_by', sa.String(length=100), nullable=False),
    sa.Column('created_at', kariya.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_store_notice'))
    )
    op.create_index(op.f('ix_store_notice_created_at'), 'store_notice', ['created_at'], unique=False)
    op.create_table('bank_change_request',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('store_id', sa.Integer(), nullable=False),
    sa.Column('bank_code', sa.String(length=4), nullable=False),
    sa.Column('branch_code', sa.String(length=3), nullable=False),
    sa.Column('account_type', sa.String(length=10), nullable=False),
    sa.Column('account_number', sa.String(length=7), nullable=False),
    sa.Column('account_holder_kana', sa.String(length=100), nullable=False),
    sa.Column('previous_account', sa.String(length=200), nullable=False),
    sa.Column('note', sa.String(length=500), nullable=False),
    sa.Column('state', sa.String(length=12), nullable=False),
    sa.Column('requested_by', sa.String(length=100), nullable=False),
    sa.Column('requested_at', kariya.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('decided_by', sa.String(length=100), nullable=True),
    sa.Column('decided_at', kariya.models.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('decision_reason', sa.String(length=500), nullable=False),
    sa.CheckConstraint("state IN ('requested', 'approved', 'rejected', 'withdrawn')", name=op.f('ck_bank_change_request_state')),
    sa.ForeignKeyConstraint(['store_id'], ['store.id'], name=op.f('fk_bank_change_request_store_id_store')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bank_change_request'))
    )
    op.create_index(op.f('ix_bank_change_request_store_id'), 'bank_change_request', ['store_id'], unique=False)
    op.create_index('uq_bank_change_request_open', 'bank_change_request', ['store_id'], unique=True, postgresql_where=sa.text("state = 'requested'"), sqlite_where=sa.text("state = 'requested'"))
    op.create_table('outbound_mail',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ref', sa.String(length=100), nullable=False),
    sa.Column('store_id', sa.Integer(), nullable=True),
    sa.Column('to_addr', sa.String(length=254), nullable=False),
    sa.Column('subject', sa.String(length=200), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.String(length=500), nullable=False),
    sa.Column('created_at', kariya.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('sent_at', kariya.models.types.UTCDateTime(timezone=True), nullable=True),
    sa.CheckConstraint("state IN ('pending', 'sent', 'failed')", name=op.f('ck_outbound_mail_state')),
    sa.ForeignKeyConstraint(['store_id'], ['store.id'], name=op.f('fk_outbound_mail_store_id_store')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbound_mail')),
    sa.UniqueConstraint('ref', 'to_addr', name=op.f('uq_outbound_mail_ref_to_addr'))
    )
    op.create_index(op.f('ix_outbound_mail_state'), 'outbound_mail', ['state'], unique=False)
    op.create_index(op.f('ix_outbound_mail_store_id'), 'outbound_mail', ['store_id'], unique=False)
    op.create_table('store_notice_read',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('notice_id', sa.Integer(), nullable=False),
    sa.Column('store_id', sa.Integer(), nullable=False),
    sa.Column('read_by', sa.String(length=100), nullable=False),
    sa.Column('read_at', kariya.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['notice_id'], ['store_notice.id'], name=op.f('fk_store_notice_read_notice_id_store_notice')),
    sa.ForeignKeyConstraint(['store_id'], ['store.id'], name=op.f('fk_store_notice_read_store_id_store')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_store_notice_read')),
    sa.UniqueConstraint('notice_id', 'store_id', name=op.f('uq_store_notice_read_notice_id_store_id'))
    )
    op.create_index(op.f('ix_store_notice_read_store_id'), 'store_notice_read', ['store_id'], unique=False)
    op.create_table('payout_adjustment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('store_id', sa.Integer(), nullable=False),
    sa.Column('redemption_id', sa.Integer(), nullable=True),
    sa.Column('amount', sa.Integer(), nullable=False),
    sa.Column('reason', sa.String(length=500), nullable=False),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.Column('proposed_by', sa.String(length=100), nullable=False),
    sa.Column('proposed_at', kariya.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('decided_by', sa.String(length=100), nullable=True),
    sa.Column('decided_at', kariya.models.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('decision_reason', sa.String(length=500), nullable=False),
    sa.CheckConstraint("state IN ('proposed', 'approved', 'rejected')", name=op.f('ck_payout_adjustment_state')),
    sa.CheckConstraint('amount <> 0', name=op.f('ck_payout_adjustment_amount_nonzero')),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaign.id'], name=op.f('fk_payout_adjustment_campaign_id_campaign')),
    sa.ForeignKeyConstraint(['redemption_id'], ['redemption.id'], name=op.f('fk_payout_adjustment_redemption_id_redemption')),
    sa.ForeignKeyConstraint(['store_id'], ['store.id'], name=op.f('fk_payout_adjustment_store_id_store')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payout_adjustment'))
    )
    op.create_index(op.f('ix_payout_adjustment_store_id'), 'payout_adjustment', ['store_id'], unique=False)
    with op.batch_alter_table('payout_item') as batch:
        batch.add_column(sa.Column('adjustment_id', sa.Integer(), nullable=True))
        batch.alter_column('redemption_id', existing_type=sa.INTEGER(), nullable=True)
        batch.create_foreign_key(op.f('fk_payout_item_adjustment_id_payout_adjustment'), 'payout_adjustment', ['adjustment_id'], ['id'])
        batch.create_check_constraint(op.f('ck_payout_item_one_subject'), '(redemption_id IS NULL) <> (adjustment_id IS NULL)')
    op.create_index('uq_payout_item_active_adjustment', 'payout_item', ['adjustment_id'], unique=True, postgresql_where=sa.text('active'), sqlite_where=sa.text('active'))

def downgrade():
    op.drop_index('uq_payout_item_active_adjustment', table_name='payout_item', postgresql_where=sa.text('active'), sqlite_where=sa.text('active'))
    with op.batch_alter_table('payout_item') as batch:
        batch.drop_constraint(op.f('ck_payout_item_one_subject'), type_='check')
        batch.drop_constraint(op.f('fk_payout_item_adjustment_id_payout_adjustment'), type_='foreignkey')
        batch.alter_column('redemption_id', existing_type=sa.INTEGER(), nullable=False)
        batch.drop_column('adjustment_id')
    op.drop_index(op.f('ix_payout_adjustment_store_id'), table_name='payout_adjustment')
    op.drop_table('payout_adjustment')
    op.drop_index(op.f('ix_store_notice_read_store_id'), table_name='store_notice_read')
    op.drop_table('store_notice_read')
    op.drop_index(op.f('ix_outbound_mail_store_id'), table_name='outbound_mail')
    op.drop_index(op.f('ix_outbound_mail_state'), table_name='outbound_mail')
    op.drop_table('outbound_mail')
    op.drop_index('uq_bank_change_request_open', table_name='bank_change_request', postgresql_where=sa.text("state = 'requested'"), sqlite_where=sa.text("state = 'requested'"))
    op.drop_index(op.f('ix_bank_change_request_store_id'), table_name='bank_change_request')
    op.drop_table('bank_change_request')
    op.drop_index(op.f('ix_store_notice_created_at'), table_name='store_notice')
    op.drop_table('store_notice')
