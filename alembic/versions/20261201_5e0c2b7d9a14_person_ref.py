"""person ref: each resident's pseudonymous reference number (DESIGN 5.1 `ref`)

Revision ID: 5e0c2b7d9a14
Revises: a7c3e5f19d42
Create Date: 2026-12-01 22:10:00.000000
"""

import secrets

from alembic import op
import sqlalchemy as sa


revision = '5e0c2b7d9a14'
down_revision = 'a7c3e5f19d42'
branch_labels = None
depends_on = None


def _check_digit(body):
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return str((10 - total % 10) % 10)


def upgrade():
    with op.batch_alter_table('person') as batch:
        batch.add_column(sa.Column('ref', sa.String(length=12), nullable=True))
    conn = op.get_bind()
    person = sa.table('person', sa.column('id', sa.Integer), sa.column('ref', sa.String))
    taken = set()
    for (pid,) in conn.execute(sa.select(person.c.id)).all():
        while True:
            body = "".join(secrets.choice("0123456789") for _ in range(11))
            ref = body + _check_digit(body)
            if ref not in taken:
                break
        taken.add(ref)
        conn.execute(person.update().where(person.c.id == pid).values(ref=ref))
    with op.batch_alter_table('person') as batch:
        batch.alter_column('ref', existing_type=sa.String(length=12), nullable=False)
        batch.create_unique_constraint(batch.f('uq_person_ref'), ['ref'])


def downgrade():
    with op.batch_alter_table('person') as batch:
        batch.drop_constraint(batch.f('uq_person_ref'), type_='unique')
        batch.drop_column('ref')
