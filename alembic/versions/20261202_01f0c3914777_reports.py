"""reports: the dashboard snapshot, export jobs and their chunks, status reports, erasure requests

Revision ID: 01f0c3914777
Revises: c41f7e2a9b6d
Create Date: 2026-12-01 22:13:49.642420
"""

from alembic import op
import sqlalchemy as sa
import kariya.models.types


revision = '01f0c3914777'
down_revision = 'c41f7e2a9b6d'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('erasure_request',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('handover_sha256', sa.String(length=64), nullable=False),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.Column('requested_by', sa.String(length=100), nullable=False),
    sa.Column('requested_at', kariya.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('decided_by', sa.String(length=100), nullable=True),
    sa.Column('decided_at', kariya.models.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('decision_reason', sa.String(length=500), nullable=False),
    sa.Column('executed_by', sa.String(length=100), nullable=True),
    sa.Column('executed_at', kariya.models.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('proof', sa.Text(), nullable=False),
    sa.Column('proof_sha256', sa.String(length=64), nullable=True),
    sa.CheckConstraint("state IN ('requested', 'approved', 'rejected', 'executed')", name=op.f('ck_erasure_request_state')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_erasure_request'))
    )
    op.create_table('export_job',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('format', sa.String(length=10), nullable=False),
    sa.Column('encoding', sa.String(length=10), nullable=False),
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
    sa.Column('sha256', sa.String(length=64), nullable=True),
    sa.Column('message', sa.String(length=500), nullable=True),
    sa.Column('problems', sa.Text(), nullable=False),
    sa.CheckConstraint("state IN ('queued', 'running', 'done', 'failed')", name=op.f('ck_export_job_state')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_export_job'))
    )
    op.create_table('dashboard_snapshot',
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('as_of', kariya.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('figures', sa.Text(), nullable=False),
    sa.Column('refreshed_at', kariya.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('duration_ms', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaign.id'], name=op.f('fk_dashboard_snapshot_campaign_id_campaign')),
    sa.PrimaryKeyConstraint('campaign_id', name=op.f('pk_dashboard_snapshot'))
    )
    op.create_table('export_job_chunk',
    sa.Column('job_id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.ForeignKeyConstraint(['job_id'], ['export_job.id'], name=op.f('fk_export_job_chunk_job_id_export_job'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('job_id', 'seq', name=op.f('pk_export_job_chunk'))
    )
    op.create_table('status_report',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('round_number', sa.Integer(), nullable=False),
    sa.Column('as_of', kariya.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('xlsx', sa.LargeBinary(), nullable=False),
    sa.Column('pdf', sa.LargeBinary(), nullable=False),
    sa.Column('mailed_to', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaign.id'], name=op.f('fk_status_report_campaign_id_campaign')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_status_report')),
    sa.UniqueConstraint('campaign_id', 'round_number', name=op.f('uq_status_report_campaign_id_round_number'))
    )


def downgrade():
    op.drop_table('status_report')
    op.drop_table('export_job_chunk')
    op.drop_table('dashboard_snapshot')
    op.drop_table('export_job')
    op.drop_table('erasure_request')
