"""Store portal (one store per account)."""


def includeme(config):
    config.add_route("store.home", "/")
    config.add_route("store.materials", "/materials.zip")
    config.add_route("store.redemptions", "/api/redemptions")
    config.add_route("store.void", "/redemptions/{id:\\d+}/void")
    config.add_route("store.statements", "/statements")
    config.add_route("store.statement_xlsx", "/statements/{id:\\d+}.xlsx")
    config.add_route("store.statement_pdf", "/statements/{id:\\d+}.pdf")
