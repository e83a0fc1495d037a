"""Store portal (one store per account)."""


def includeme(config):
    config.add_route("store.home", "/")
    config.add_route("store.materials", "/materials.zip")
    config.add_route("store.redemptions", "/api/redemptions")
    config.add_route("store.void", "/redemptions/{id:\\d+}/void")
    config.add_route("store.statements", "/statements")
    config.add_route("store.statement_xlsx", "/statements/{id:\\d+}.xlsx")
    config.add_route("store.statement_pdf", "/statements/{id:\\d+}.pdf")
    config.add_route("store.notices", "/notices")
    config.add_route("store.notice_read", "/notices/{id:\\d+}/read")
    config.add_route("store.bank", "/bank-account")
    config.add_route("store.bank_withdraw", "/bank-account/requests/{id:\\d+}/withdraw")
    config.add_route("store.till", "/till")
    config.add_route("store.till_off", "/till/off")
