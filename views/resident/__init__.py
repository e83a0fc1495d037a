"""Residents' mobile pages."""


def includeme(config):
    config.add_route("resident.home", "/home")
