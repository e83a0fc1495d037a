"""at the till: a store's staff PIN (a keyed hash), and the day locks of wrong PINs (issue 15)

Revision ID: 411e7e7c46b9
Revises: 63426b491332
Create Date: 2026-12-03 10:00:00.000000
"""

from alembic import op
import sqlalchemy as sa
import kariya.models.types


revision = '411e7e7c46b9'
down_revision = '63426b491332'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('store') as batch:
        batch.add_column(sa.Column('till_pin_hash', sa.String(length=64), nullable=True))
        batch.add_column(
            sa.Column('till_pin_set_at', kariya.models.types.UTCDateTime(timezone=True), nullable=True)
        )
        batch.add_column(sa.Column('till_pin_set_by', sa.String(length=100), nullable=True))
    op.create_table('till_lock',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('store_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('locked_at', kariya.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], name=op.f('fk_till_lock_person_id_person')),
    sa.ForeignKeyConstraint(['store_id'], ['store.id'], name=op.f('fk_till_lock_store_id_store')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_till_lock')),
    sa.UniqueConstraint('person_id', 'store_id', 'day', name=op.f('uq_till_lock_person_id_store_id_day'))
    )
    op.create_index(op.f('ix_till_lock_person_id'), 'till_lock', ['person_id'], unique=False)


def downgrade():
    op.drop_index(op.f('ix_till_lock_person_id'), table_name='till_lock')
    op.drop_table('till_lock')
    with op.batch_alter_table('store') as batch:
        batch.drop_column('till_pin_set_by')
        batch.drop_column('till_pin_set_at')
        batch.drop_column('till_pin_hash')
