"""The city's screens: the live picture, and its decisions."""


def includeme(config):
    config.add_route("city.home", "/")
    config.add_route("city.halt", "/issuance/halt")
    config.add_route("city.resume", "/issuance/resume")
