"""fraud watch (issue 15): fraud cases and their evidence, payout holds

Revision ID: e7b3d91c5a28
Revises: 411e7e7c46b9
Create Date: 2026-12-03 09:00:00.000000
"""

from alembic import op
import sqlalchemy as sa
import kariya.models.types


revision = 'e7b3d91c5a28'
down_revision = '411e7e7c46b9'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('fraud_case',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('rule', sa.String(length=30), nullable=False),
    sa.Column('subject', sa.String(length=30), nullable=False),
    sa.Column('store_id', sa.Integer(), nullable=True),
    sa.Column('person_id', sa.Integer(), nullable=True),
    sa.Column('state', sa.String(length=15), nullable=False),
    sa.Column('opened_at', kariya.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', kariya.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('figures', sa.Text(), nullable=False),
    sa.Column('summary', sa.String(length=500), nullable=False),
    sa.Column('decided_by', sa.String(length=100), nullable=True),
    sa.Column('decided_at', kariya.models.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('adjustment_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("state IN ('flagged', 'under_review', 'cleared', 'confirmed')", name=op.f('ck_fraud_case_state')),
    sa.CheckConstraint('(store_id IS NULL) <> (person_id IS NULL)', name=op.f('ck_fraud_case_one_subject')),
    sa.ForeignKeyConstraint(['adjustment_id'], ['payout_adjustment.id'], name=op.f('fk_fraud_case_adjustment_id_payout_adjustment')),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaign.id'], name=op.f('fk_fraud_case_campaign_id_campaign')),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], name=op.f('fk_fraud_case_person_id_person')),
    sa.ForeignKeyConstraint(['store_id'], ['store.id'], name=op.f('fk_fraud_case_store_id_store')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_fraud_case'))
    )
    op.create_index(op.f('ix_fraud_case_opened_at'), 'fraud_case', ['opened_at'], unique=False)
    op.create_index(op.f('ix_fraud_case_person_id'), 'fraud_case', ['person_id'], unique=False)
    op.create_index('ix_fraud_case_rule_subject', 'fraud_case', ['rule', 'subject'], unique=False)
    op.create_index(op.f('ix_fraud_case_store_id'), 'fraud_case', ['store_id'], unique=False)
    op.create_index('uq_fraud_case_open', 'fraud_case', ['rule', 'subject'], unique=True, postgresql_where=sa.text("state IN ('flagged', 'under_review')"), sqlite_where=sa.text("state IN ('flagged', 'under_review')"))
    op.create_table('payout_hold',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('store_id', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=40), nullable=False),
    sa.Column('reason', sa.String(length=300), nullable=False),
    sa.Column('placed_by', sa.String(length=100), nullable=False),
    sa.Column('placed_at', kariya.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('adjustment_id', sa.Integer(), nullable=True),
    sa.Column('released_by', sa.String(length=100), nullable=True),
    sa.Column('released_at', kariya.models.types.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['adjustment_id'], ['payout_adjustment.id'], name=op.f('fk_payout_hold_adjustment_id_payout_adjustment')),
    sa.ForeignKeyConstraint(['store_id'], ['store.id'], name=op.f('fk_payout_hold_store_id_store')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payout_hold'))
    )
    op.create_index(op.f('ix_payout_hold_store_id'), 'payout_hold', ['store_id'], unique=False)
    op.create_index('uq_payout_hold_active_source', 'payout_hold', ['source'], unique=True, postgresql_where=sa.text('released_at IS NULL'), sqlite_where=sa.text('released_at IS NULL'))
    op.create_table('fraud_evidence',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=40), nullable=False),
    sa.Column('redemption_id', sa.Integer(), nullable=True),
    sa.Column('person_id', sa.Integer(), nullable=True),
    sa.Column('bank_change_id', sa.Integer(), nullable=True),
    sa.Column('added_at', kariya.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['bank_change_id'], ['bank_change_request.id'], name=op.f('fk_fraud_evidence_bank_change_id_bank_change_request')),
    sa.ForeignKeyConstraint(['case_id'], ['fraud_case.id'], name=op.f('fk_fraud_evidence_case_id_fraud_case')),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], name=op.f('fk_fraud_evidence_person_id_person')),
    sa.ForeignKeyConstraint(['redemption_id'], ['redemption.id'], name=op.f('fk_fraud_evidence_redemption_id_redemption')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_fraud_evidence')),
    sa.UniqueConstraint('case_id', 'key', name=op.f('uq_fraud_evidence_case_id_key'))
    )
    op.create_index(op.f('ix_fraud_evidence_case_id'), 'fraud_evidence', ['case_id'], unique=False)


def downgrade():
    op.drop_index(op.f('ix_fraud_evidence_case_id'), table_name='fraud_evidence')
    op.drop_table('fraud_evidence')
    op.drop_index('uq_payout_hold_active_source', table_name='payout_hold', postgresql_where=sa.text('released_at IS NULL'), sqlite_where=sa.text('released_at IS NULL'))
    op.drop_index(op.f('ix_payout_hold_store_id'), table_name='payout_hold')
    op.drop_table('payout_hold')
    op.drop_index('uq_fraud_case_open', table_name='fraud_case', postgresql_where=sa.text("state IN ('flagged', 'under_review')"), sqlite_where=sa.text("state IN ('flagged', 'under_review')"))
    op.drop_index(op.f('ix_fraud_case_store_id'), table_name='fraud_case')
    op.drop_index('ix_fraud_case_rule_subject', table_name='fraud_case')
    op.drop_index(op.f('ix_fraud_case_person_id'), table_name='fraud_case')
    op.drop_index(op.f('ix_fraud_case_opened_at'), table_name='fraud_case')
    op.drop_table('fraud_case')
