"""The call centre's console (agents)."""


def includeme(config):
    config.add_route("callcenter.home", "/")
    config.add_route("callcenter.inquiries", "/inquiries")
    config.add_route("callcenter.inquiry", "/inquiries/{id:\\d+}")
    config.add_route("callcenter.inquiry_event", "/inquiries/{id:\\d+}/events")
    config.add_route("callcenter.inquiry_note", "/inquiries/{id:\\d+}/notes")
    config.add_route("callcenter.inquiry_link", "/inquiries/{id:\\d+}/link")
    config.add_route("callcenter.inquiry_transfer", "/inquiries/{id:\\d+}/transfer")
    config.add_route("callcenter.transfer_withdraw", "/transfers/{id:\\d+}/withdraw")
    config.add_route("callcenter.manual", "/manual")
