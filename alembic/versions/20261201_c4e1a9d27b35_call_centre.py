"""call centre: inquiries, their journal and reminders, lost-phone transfers, the access log

Revision ID: c4e1a9d27b35
Revises: 01f0c3914777
Create Date: 2026-12-01 22:15:56.499737
"""

from alembic import op
import sqlalchemy as sa
import kariya.models.types


revision = 'c4e1a9d27b35'
down_revision = '01f0c3914777'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('access_record',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', kariya.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=100), nullable=False),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.Column('action', sa.String(length=40), nullable=False),
    sa.Column('subject', sa.String(length=100), nullable=False),
    sa.Column('inquiry_id', sa.BigInteger(), nullable=True),
    sa.Column('detail', sa.String(length=300), nullable=False),
    sa.Column('address', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_access_record'))
    )
    op.create_index(op.f('ix_access_record_at'), 'access_record', ['at'], unique=False)
    op.create_index(op.f('ix_access_record_subject'), 'access_record', ['subject'], unique=False)
    op.create_table('inquiry',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.Column('caller_type', sa.String(length=10), nullable=False),
    sa.Column('channel', sa.String(length=10), nullable=False),
    sa.Column('category', sa.String(length=30), nullable=False),
    sa.Column('subject', sa.String(length=200), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=True),
    sa.Column('store_id', sa.Integer(), nullable=True),
    sa.Column('redemption_id', sa.Integer(), nullable=True),
    sa.Column('payout_line_id', sa.Integer(), nullable=True),
    sa.Column('received_at', kariya.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.String(length=100), nullable=False),
    sa.Column('assignee', sa.String(length=100), nullable=True),
    sa.Column('due_at', kariya.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('warn_at', kariya.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('waiting_since', kariya.models.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('escalated_at', kariya.models.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('escalation_summary', sa.Text(), nullable=False),
    sa.Column('remind_at', kariya.models.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('answered_at', kariya.models.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('answered_by', sa.String(length=100), nullable=True),
    sa.Column('answer', sa.Text(), nullable=False),
    sa.Column('resolved_at', kariya.models.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('close_at', kariya.models.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('closed_at', kariya.models.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('merged_into_id', sa.Integer(), nullable=True),
    sa.Column('updated_at', kariya.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("caller_type IN ('resident', 'store', 'other')", name=op.f('ck_inquiry_caller_type')),
    sa.CheckConstraint("channel IN ('phone', 'mail', 'other')", name=op.f('ck_inquiry_channel')),
    sa.CheckConstraint("state IN ('new', 'open', 'waiting', 'escalated', 'answered', 'resolved', 'closed', 'merged')", name=op.f('ck_inquiry_state')),
    sa.ForeignKeyConstraint(['merged_into_id'], ['inquiry.id'], name=op.f('fk_inquiry_merged_into_id_inquiry')),
    sa.ForeignKeyConstraint(['payout_line_id'], ['payout_line.id'], name=op.f('fk_inquiry_payout_line_id_payout_line')),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], name=op.f('fk_inquiry_person_id_person')),
    sa.ForeignKeyConstraint(['redemption_id'], ['redemption.id'], name=op.f('fk_inquiry_redemption_id_redemption')),
    sa.ForeignKeyConstraint(['store_id'], ['store.id'], name=op.f('fk_inquiry_store_id_store')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_inquiry'))
    )
    op.create_index(op.f('ix_inquiry_escalated_at'), 'inquiry', ['escalated_at'], unique=False)
    op.create_index(op.f('ix_inquiry_person_id'), 'inquiry', ['person_id'], unique=False)
    op.create_index('ix_inquiry_state_due_at', 'inquiry', ['state', 'due_at'], unique=False)
    op.create_index(op.f('ix_inquiry_store_id'), 'inquiry', ['store_id'], unique=False)
    op.create_table('inquiry_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('inquiry_id', sa.Integer(), nullable=False),
    sa.Column('at', kariya.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=100), nullable=False),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.Column('event', sa.String(length=20), nullable=False),
    sa.Column('from_state', sa.String(length=10), nullable=True),
    sa.Column('to_state', sa.String(length=10), nullable=True),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('manual_version', sa.Integer(), nullable=True),
    sa.Column('manual_section', sa.String(length=200), nullable=True),
    sa.ForeignKeyConstraint(['inquiry_id'], ['inquiry.id'], name=op.f('fk_inquiry_event_inquiry_id_inquiry')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_inquiry_event'))
    )
    op.create_index(op.f('ix_inquiry_event_inquiry_id'), 'inquiry_event', ['inquiry_id'], unique=False)
    op.create_table('inquiry_reminder',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('inquiry_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('due_at', kariya.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_at', kariya.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('escalation', 'due_soon')", name=op.f('ck_inquiry_reminder_kind')),
    sa.ForeignKeyConstraint(['inquiry_id'], ['inquiry.id'], name=op.f('fk_inquiry_reminder_inquiry_id_inquiry')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_inquiry_reminder')),
    sa.UniqueConstraint('inquiry_id', 'kind', 'due_at', name=op.f('uq_inquiry_reminder_inquiry_id_kind_due_at'))
    )
    op.create_index(op.f('ix_inquiry_reminder_created_at'), 'inquiry_reminder', ['created_at'], unique=False)
    op.create_table('person_transfer',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.Column('inquiry_id', sa.Integer(), nullable=False),
    sa.Column('from_person_id', sa.Integer(), nullable=False),
    sa.Column('to_person_id', sa.Integer(), nullable=False),
    sa.Column('identity_check', sa.Text(), nullable=False),
    sa.Column('requested_by', sa.String(length=100), nullable=False),
    sa.Column('requested_at', kariya.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('decided_by', sa.String(length=100), nullable=True),
    sa.Column('decided_at', kariya.models.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('decision_note', sa.String(length=500), nullable=False),
    sa.Column('moved', sa.Text(), nullable=False),
    sa.CheckConstraint("state IN ('requested', 'approved', 'rejected', 'withdrawn')", name=op.f('ck_person_transfer_state')),
    sa.CheckConstraint('from_person_id <> to_person_id', name=op.f('ck_person_transfer_two_people')),
    sa.ForeignKeyConstraint(['from_person_id'], ['person.id'], name=op.f('fk_person_transfer_from_person_id_person')),
    sa.ForeignKeyConstraint(['inquiry_id'], ['inquiry.id'], name=op.f('fk_person_transfer_inquiry_id_inquiry')),
    sa.ForeignKeyConstraint(['to_person_id'], ['person.id'], name=op.f('fk_person_transfer_to_person_id_person')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_person_transfer'))
    )
    op.create_index(op.f('ix_person_transfer_inquiry_id'), 'person_transfer', ['inquiry_id'], unique=False)
    op.create_index('uq_person_transfer_open', 'person_transfer', ['from_person_id'], unique=True, postgresql_where=sa.text("state = 'requested'"), sqlite_where=sa.text("state = 'requested'"))
    with op.batch_alter_table('person') as batch:
        batch.add_column(sa.Column('blocked_at', kariya.models.types.UTCDateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column('successor_id', sa.Integer(), nullable=True))
        batch.create_foreign_key(batch.f('fk_person_successor_id_person'), 'person', ['successor_id'], ['id'])


def downgrade():
    with op.batch_alter_table('person') as batch:
        batch.drop_constraint(batch.f('fk_person_successor_id_person'), type_='foreignkey')
        batch.drop_column('successor_id')
        batch.drop_column('blocked_at')
    op.drop_index('uq_person_transfer_open', table_name='person_transfer', postgresql_where=sa.text("state = 'requested'"), sqlite_where=sa.text("state = 'requested'"))
    op.drop_index(op.f('ix_person_transfer_inquiry_id'), table_name='person_transfer')
    op.drop_table('person_transfer')
    op.drop_index(op.f('ix_inquiry_reminder_created_at'), table_name='inquiry_reminder')
    op.drop_table('inquiry_reminder')
    op.drop_index(op.f('ix_inquiry_event_inquiry_id'), table_name='inquiry_event')
    op.drop_table('inquiry_event')
    op.drop_index(op.f('ix_inquiry_store_id'), table_name='inquiry')
    op.drop_index('ix_inquiry_state_due_at', table_name='inquiry')
    op.drop_index(op.f('ix_inquiry_person_id'), table_name='inquiry')
    op.drop_index(op.f('ix_inquiry_escalated_at'), table_name='inquiry')
    op.drop_table('inquiry')
    op.drop_index(op.f('ix_access_record_subject'), table_name='access_record')
    op.drop_index(op.f('ix_access_record_at'), table_name='access_record')
    op.drop_table('access_record')
