"""Call-centre pages."""


def includeme(config):
    config.add_route("callcenter.home", "/")
    config.add_route("callcenter.manual", "/manual")
