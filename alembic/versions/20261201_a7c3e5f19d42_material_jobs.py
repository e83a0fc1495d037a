"""material jobs: the bulk material-set builds and their ZIPs in the database

Revision ID: a7c3e5f19d42
Revises: bef5dc056dc9
Create Date: 2026-12-01 21:54:15.801671
"""

from alembic import op
import sqlalchemy as sa
import kariya.models.types


revision = 'a7c3e5f19d42'
down_revision = 'bef5dc056dc9'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('material_job',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.Column('requested_by', sa.String(length=100), nullable=False),
    sa.Column('requested_at', kariya.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('started_at', kariya.models.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('finished_at', kariya.models.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('updated_at', kariya.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('attempt', sa.Integer(), nullable=False),
    sa.Column('done', sa.Integer(), nullable=False),
    sa.Column('total', sa.Integer(), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=True),
    sa.Column('message', sa.String(length=500), nullable=True),
    sa.CheckConstraint("state IN ('queued', 'running', 'done', 'failed')", name=op.f('ck_material_job_state')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_material_job'))
    )
    op.create_table('material_job_chunk',
    sa.Column('job_id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.ForeignKeyConstraint(['job_id'], ['material_job.id'], name=op.f('fk_material_job_chunk_job_id_material_job'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('job_id', 'seq', name=op.f('pk_material_job_chunk'))
    )


def downgrade():
    op.drop_table('material_job_chunk')
    op.drop_table('material_job')
