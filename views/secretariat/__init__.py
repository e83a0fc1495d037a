"""The secretariat's screens (the contractor's office)."""


def includeme(config):
    config.add_route("secretariat.home", "/")
    config.add_route("secretariat.tick", "/tick")
    config.add_route("secretariat.workflows", "/workflows")
    config.add_route("secretariat.workflow_diagram", "/workflows/{name}.mmd")
    config.add_route("secretariat.ledger", "/ledger")
    config.add_route("secretariat.campaign", "/campaign")
