"""withdrawal: a withdrawn resident's time and keyed LINE id hash, a returning account's link

Revision ID: b29ac6ff43fc
Revises: e7b3d91c5a28
Create Date: 2026-12-03 10:00:00.000000
"""

from alembic import op
import sqlalchemy as sa
import kariya.models.types


revision = 'b29ac6ff43fc'
down_revision = 'e7b3d91c5a28'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('person') as batch:
        batch.add_column(sa.Column('withdrawn_at', kariya.models.types.UTCDateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column('line_hash', sa.String(length=64), nullable=True))
        batch.add_column(sa.Column('returned_from_id', sa.Integer(), nullable=True))
        batch.create_index(batch.f('ix_person_line_hash'), ['line_hash'], unique=False)
        batch.create_foreign_key(batch.f('fk_person_returned_from_id_person'), 'person', ['returned_from_id'], ['id'])


def downgrade():
    with op.batch_alter_table('person') as batch:
        batch.drop_constraint(batch.f('fk_person_returned_from_id_person'), type_='foreignkey')
        batch.drop_index(batch.f('ix_person_line_hash'))
        batch.drop_column('returned_from_id')
        batch.drop_column('line_hash')
        batch.drop_column('withdrawn_at')
