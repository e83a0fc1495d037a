"""Residents' mobile pages."""

from views.resident.callcenter import hours_now


def includeme(config):
    # The call centre's hours now, for the footer and the help page (computed when shown).
    config.add_request_method(hours_now, "callcenter_hours", reify=True)
    config.add_route("resident.home", "/home")
    config.add_route("resident.profile", "/profile")
    config.add_route("resident.wallet", "/wallet")
    config.add_route("resident.history", "/history")
    config.add_route("resident.stores", "/stores")
    config.add_route("resident.store", "/stores/{code}")
    config.add_route("resident.excluded", "/excluded")
    config.add_route("resident.help", "/help")
    config.add_route("resident.terms", "/terms")
    config.add_route("resident.withdraw", "/withdraw")
    config.add_route("resident.withdrawn", "/withdrawn")
    config.add_route("resident.use", "/s/{token}")
    config.add_route("resident.login_line", "/login/line")
    config.add_route("resident.login_line_callback", "/login/line/callback")
