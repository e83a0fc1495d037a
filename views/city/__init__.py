"""The city's screens: the live picture, and its decisions."""


def includeme(config):
    config.add_route("city.home", "/")
    config.add_route("city.halt", "/issuance/halt")
    config.add_route("city.resume", "/issuance/resume")
    config.add_route("city.payouts", "/payouts")
    config.add_route("city.payout", "/payouts/{id:\\d+}")
    config.add_route("city.payout_action", "/payouts/{id:\\d+}/{action:approve|reject}")
    config.add_route("city.payout_xlsx", "/payouts/{id:\\d+}.xlsx")
    config.add_route("city.adjustments", "/adjustments")
    config.add_route("city.adjustment", "/adjustments/{id:\\d+}/{action:approve|reject}")
    config.add_route("city.callcenter", "/callcenter")
    config.add_route("city.inquiry", "/callcenter/inquiries/{id:\\d+}")
    config.add_route("city.inquiry_answer", "/callcenter/inquiries/{id:\\d+}/answer")
    config.add_route("city.transfer", "/callcenter/transfers/{id:\\d+}")
    config.add_route(
        "city.transfer_decide", "/callcenter/transfers/{id:\\d+}/{action:approve|reject}"
    )
    config.add_route("city.access_log", "/access-log")
    config.add_route("city.access_log_csv", "/access-log.csv")
    config.add_route("city.documents", "/documents")
    config.add_route("city.document_version", "/documents/{kind}/versions/{number:\\d+}")
    config.add_route("city.document_event", "/documents/{kind}/versions/{number:\\d+}/events")
