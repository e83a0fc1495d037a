"""documents: versioned documents the city approves, residents' consents

The store manual, the call-centre answer manual and the terms as documents with versions
(workflows.document), the record of which terms version each resident agreed to and when, and
the store manual version a bulk material set carries. Version 1 of each document is written by `kariya initdb`
(kariya.documents.seed), not here.

Revision ID: 3cb6e2fb1de3
Revises: 5e0c2b7d9a14
Create Date: 2026-12-02 09:00:00.000000
"""

from alembic import op
import sqlalchemy as sa
import kariya.models.types


revision = '3cb6e2fb1de3'
down_revision = '5e0c2b7d9a14'
branch_labels = None
depends_on = None

STATES = "'draft', 'submitted', 'approved', 'changes_requested', 'published', 'superseded'"
UNPUBLISHED = "state IN ('draft', 'submitted', 'approved', 'changes_requested')"
PUBLISHED = "state = 'published'"


def upgrade():
    op.create_table('document',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('title', sa.String(length=100), nullable=False),
    sa.Column('created_at', kariya.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_document')),
    sa.UniqueConstraint('kind', name=op.f('uq_document_kind'))
    )
    op.create_table('document_version',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('document_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('change_note', sa.String(length=500), nullable=False),
    sa.Column('created_by', sa.String(length=100), nullable=False),
    sa.Column('created_at', kariya.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_by', sa.String(length=100), nullable=False),
    sa.Column('updated_at', kariya.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('submitted_by', sa.String(length=100), nullable=True),
    sa.Column('submitted_at', kariya.models.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('decided_by', sa.String(length=100), nullable=True),
    sa.Column('decided_at', kariya.models.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('decision_note', sa.String(length=1000), nullable=False),
    sa.Column('approved_by', sa.String(length=100), nullable=True),
    sa.Column('approved_at', kariya.models.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('published_by', sa.String(length=100), nullable=True),
    sa.Column('published_at', kariya.models.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('superseded_at', kariya.models.types.UTCDateTime(timezone=True), nullable=True),
    sa.CheckConstraint(f"state IN ({STATES})", name=op.f('ck_document_version_state')),
    sa.ForeignKeyConstraint(['document_id'], ['document.id'], name=op.f('fk_document_version_document_id_document')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_document_version')),
    sa.UniqueConstraint('document_id', 'number', name=op.f('uq_document_version_document_id_number'))
    )
    op.create_index('uq_document_version_unpublished', 'document_version', ['document_id'], unique=True, postgresql_where=sa.text(UNPUBLISHED), sqlite_where=sa.text(UNPUBLISHED))
    op.create_index('uq_document_version_published', 'document_version', ['document_id'], unique=True, postgresql_where=sa.text(PUBLISHED), sqlite_where=sa.text(PUBLISHED))
    op.create_table('terms_consent',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('agreed_at', kariya.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['person_id'], ['person.id'], name=op.f('fk_terms_consent_person_id_person')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_terms_consent')),
    sa.UniqueConstraint('person_id', 'version', name=op.f('uq_terms_consent_person_id_version'))
    )
    op.add_column('material_job', sa.Column('manual_version', sa.Integer(), nullable=True))


def downgrade():
    with op.batch_alter_table('material_job') as batch:
        batch.drop_column('manual_version')
    op.drop_table('terms_consent')
    op.drop_index('uq_document_version_published', table_name='document_version', postgresql_where=sa.text(PUBLISHED), sqlite_where=sa.text(PUBLISHED))
    op.drop_index('uq_document_version_unpublished', table_name='document_version', postgresql_where=sa.text(UNPUBLISHED), sqlite_where=sa.text(UNPUBLISHED))
    op.drop_table('document_version')
    op.drop_table('document')
