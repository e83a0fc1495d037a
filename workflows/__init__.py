"""State machines (transitions library), one module per entity, and the binding that applies
them to database rows. Imports nothing from the web or from Celery.

`ALL` is the one list of every machine (the secretariat's diagram page, the test that the
database's CHECK constraints equal the machines); a new machine module is added here. A module
may hold a second machine of the same entity family (payout.LINE, inquiry.TRANSFER, store.BANK_CHANGE)."""

from workflows import (
    coupon,
    document,
    fraud,
    inquiry,
    mail,
    material_job,
    payout,
    redemption,
    reports,
    round,
    store,
)

ALL = (
    round.MACHINE,
    coupon.MACHINE,
    redemption.MACHINE,
    store.MACHINE,
    store.BANK_CHANGE,
    payout.MACHINE,
    payout.LINE,
    payout.ADJUSTMENT,
    mail.MACHINE,
    material_job.MACHINE,
    reports.MACHINE,
    reports.ERASURE,
    inquiry.MACHINE,
    inquiry.TRANSFER,
    document.MACHINE,
    fraud.MACHINE,
)

BY_NAME = {machine.kariya_name: machine for machine in ALL}
