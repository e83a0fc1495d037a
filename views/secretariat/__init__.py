"""The secretariat's screens (the contractor's office)."""


def includeme(config):
    config.add_route("secretariat.home", "/")
    config.add_route("secretariat.tick", "/tick")
    config.add_route("secretariat.workflows", "/workflows")
    config.add_route("secretariat.workflow_diagram", "/workflows/{name}.mmd")
    config.add_route("secretariat.ledger", "/ledger")
    config.add_route("secretariat.campaign", "/campaign")
    config.add_route("secretariat.materials", "/materials")
    config.add_route("secretariat.materials_build", "/materials/build")
    config.add_route("secretariat.materials_job", "/materials/jobs/{job}.json")
    config.add_route("secretariat.materials_download", "/materials/jobs/{job}.zip")
    config.add_route("secretariat.materials_store", "/materials/store")
    config.add_route("secretariat.store_materials", "/stores/{code}/materials.zip")
    config.add_route("secretariat.store_qr_reissue", "/materials/reissue-qr")
    config.add_route("secretariat.payouts", "/payouts")
    config.add_route("secretariat.payouts_build", "/payouts/build")
    config.add_route("secretariat.payout", "/payouts/{id:\\d+}")
    config.add_route("secretariat.payout_action", "/payouts/{id:\\d+}/{action:submit|redraft|export|results|reconcile}")
    config.add_route("secretariat.payout_zengin", "/payouts/{id:\\d+}/zengin.txt")
    config.add_route("secretariat.payout_xlsx", "/payouts/{id:\\d+}.xlsx")
