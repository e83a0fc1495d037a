"""uploaded file: store list uploads kept in the database between preview and confirmation

Revision ID: bef5dc056dc9
Revises: 9b8a901cb932
Create Date: 2026-11-30 09:00:00.000000
"""

from alembic import op
import sqlalchemy as sa
import kariya.models.types


revision = 'bef5dc056dc9'
down_revision = '9b8a901cb932'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('uploaded_file',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token', sa.String(length=64), nullable=False),
    sa.Column('purpose', sa.String(length=30), nullable=False),
    sa.Column('uploaded_by', sa.String(length=100), nullable=False),
    sa.Column('uploaded_at', kariya.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('filename', sa.String(length=200), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('content', sa.LargeBinary(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_uploaded_file')),
    sa.UniqueConstraint('token', name=op.f('uq_uploaded_file_token'))
    )
    op.create_index(op.f('ix_uploaded_file_uploaded_at'), 'uploaded_file', ['uploaded_at'], unique=False)


def downgrade():
    op.drop_index(op.f('ix_uploaded_file_uploaded_at'), table_name='uploaded_file')
    op.drop_table('uploaded_file')
