"""Store portal (one store per account)."""


def includeme(config):
    config.add_route("store.home", "/")
