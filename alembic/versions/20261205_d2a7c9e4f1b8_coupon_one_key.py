"""a coupon's acquisition, round and person as one foreign key (issue 16)

Revision ID: d2a7c9e4f1b8
Revises: c4f1e2a9d7b3
Create Date: 2026-12-05 09:00:00.000000

A coupon had three foreign keys of its own (to its acquisition, its round and its person), and
the database checked each for every coupon: twelve look-ups a pack, about 700 of the 800 ms of
inserting 23,400 coupons here (one key: 455 ms), a sixth of the database's CPU for an
acquisition in the weekly rush (issue 16). Now they are one key, (acquisition_id, round_id,
person_id) to the acquisition's own three (unique together, as `id` alone already is): one
look-up a coupon, and it says more than the three did, since a coupon can no longer name another
round or person than its pack's. The acquisition's keys to the round and the person stand for
the coupon's. A returning resident's records moved to the new account
(kariya.callcenter.transfers) move the acquisition, and the key carries its coupons along (ON
UPDATE CASCADE).

Adding the key checks every coupon already there, in one query under the table's lock: 7 ms for
31,400 coupons on this project's benchmark machine, so a fraction of a second for a campaign's
~500,000.
"""

from alembic import op

revision = 'd2a7c9e4f1b8'
down_revision = 'c4f1e2a9d7b3'
branch_labels = None
depends_on = None

THREE = ('id', 'round_id', 'person_id')
OWN = ('acquisition_id', 'round_id', 'person_id')


def upgrade():
    with op.batch_alter_table('acquisition') as batch:
        batch.create_unique_constraint(batch.f('uq_acquisition_id_round_id_person_id'), list(THREE))
    with op.batch_alter_table('coupon') as batch:
        batch.drop_constraint(batch.f('fk_coupon_acquisition_id_acquisition'), type_='foreignkey')
        batch.drop_constraint(batch.f('fk_coupon_person_id_person'), type_='foreignkey')
        batch.drop_constraint(batch.f('fk_coupon_round_id_round'), type_='foreignkey')
        batch.create_foreign_key(
            batch.f('fk_coupon_acquisition_id_acquisition'),
            'acquisition',
            list(OWN),
            list(THREE),
            onupdate='CASCADE',
        )


def downgrade():
    with op.batch_alter_table('coupon') as batch:
        batch.drop_constraint(batch.f('fk_coupon_acquisition_id_acquisition'), type_='foreignkey')
        batch.create_foreign_key(
            batch.f('fk_coupon_acquisition_id_acquisition'), 'acquisition', ['acquisition_id'], ['id']
        )
        batch.create_foreign_key(batch.f('fk_coupon_person_id_person'), 'person', ['person_id'], ['id'])
        batch.create_foreign_key(batch.f('fk_coupon_round_id_round'), 'round', ['round_id'], ['id'])
    with op.batch_alter_table('acquisition') as batch:
        batch.drop_constraint(batch.f('uq_acquisition_id_round_id_person_id'), type_='unique')
