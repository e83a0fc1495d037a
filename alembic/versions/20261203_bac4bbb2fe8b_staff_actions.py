"""staff actions: the audit log of what staff did (issue 14), append only

Revision ID: bac4bbb2fe8b
Revises: b29ac6ff43fc
Create Date: 2026-12-03 09:00:00.000000
"""

from alembic import op
import sqlalchemy as sa
import kariya.models.types


revision = 'bac4bbb2fe8b'
down_revision = 'b29ac6ff43fc'
branch_labels = None
depends_on = None

# The log is append only: a row, once written, is never changed or removed. The triggers refuse
# UPDATE and DELETE for every role, the application's own included (TRUNCATE, which only the
# table's owner may run, is not a row change and stays possible for the test suite's cleanup).
PG_FUNCTION = """
CREATE FUNCTION staff_action_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'staff_action is append only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql
"""
PG_TRIGGER = """
CREATE TRIGGER staff_action_append_only BEFORE UPDATE OR DELETE ON staff_action
FOR EACH ROW EXECUTE FUNCTION staff_action_append_only()
"""
SQLITE_TRIGGERS = [
    f"""
CREATE TRIGGER staff_action_no_{op_name.lower()} BEFORE {op_name} ON staff_action
BEGIN SELECT RAISE(ABORT, 'staff_action is append only: {op_name} refused'); END
"""
    for op_name in ("UPDATE", "DELETE")
]


def upgrade():
    op.create_table('staff_action',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', kariya.models.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=100), nullable=False),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.Column('address', sa.String(length=64), nullable=False),
    sa.Column('action', sa.String(length=80), nullable=False),
    sa.Column('method', sa.String(length=10), nullable=False),
    sa.Column('record', sa.String(length=200), nullable=False),
    sa.Column('status', sa.Integer(), nullable=False),
    sa.Column('outcome', sa.String(length=12), nullable=False),
    sa.Column('detail', sa.String(length=200), nullable=False),
    sa.Column('transition_ids', sa.String(length=120), nullable=False),
    sa.Column('transitions', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_staff_action'))
    )
    op.create_index(op.f('ix_staff_action_at'), 'staff_action', ['at'], unique=False)
    op.create_index(op.f('ix_staff_action_actor'), 'staff_action', ['actor'], unique=False)
    op.create_index(op.f('ix_staff_action_action'), 'staff_action', ['action'], unique=False)
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(PG_FUNCTION)
        op.execute(PG_TRIGGER)
    else:
        for statement in SQLITE_TRIGGERS:
            op.execute(statement)


def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('DROP TRIGGER staff_action_append_only ON staff_action')
        op.execute('DROP FUNCTION staff_action_append_only()')
    else:
        for op_name in ('update', 'delete'):
            op.execute(f'DROP TRIGGER staff_action_no_{op_name}')
    op.drop_index(op.f('ix_staff_action_action'), table_name='staff_action')
    op.drop_index(op.f('ix_staff_action_actor'), table_name='staff_action')
    op.drop_index(op.f('ix_staff_action_at'), table_name='staff_action')
    op.drop_table('staff_action')
