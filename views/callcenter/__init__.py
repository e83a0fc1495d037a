"""Call-centre pages."""


def includeme(config):
    config.add_route("callcenter.home", "/")
