"""JSON API v1 (DESIGN.md section 5), described by openapi.yaml beside this file."""


def includeme(config):
    config.add_route("api.openapi", "/openapi.yaml")
    config.add_route("api.profile_options", "/profile-options")
    config.add_route("api.me", "/me")
    config.add_route("api.me.profile", "/me/profile")
    config.add_route("api.rounds.current", "/rounds/current")
    config.add_route("api.acquisitions", "/acquisitions")
    config.add_route("api.coupons", "/coupons")
    config.add_route("api.stores", "/stores")
    config.add_route("api.qr", "/qr/{token}")
    config.add_route("api.redemptions", "/redemptions")
    config.include("views.api.coupons")  # the late arrivals' answer before the session
    config.add_route("api.staff.dashboard", "/staff/dashboard")
    config.add_route("api.callcenter.hours", "/callcenter/hours")
    config.add_route("api.staff.me", "/staff/me")
    config.add_route("api.staff.inquiries", "/staff/inquiries")
    config.add_route("api.staff.inquiry", "/staff/inquiries/{id:\\d+}")
    config.add_route("api.staff.inquiry_events", "/staff/inquiries/{id:\\d+}/events")
    config.add_route("api.staff.residents", "/staff/residents")
    config.add_route("api.staff.resident", "/staff/residents/{person_ref}")
    config.add_route("api.staff.access_log", "/staff/access-log")
    config.add_route("api.staff.audit_log", "/staff/audit-log")
    config.add_route("api.documents", "/documents/{kind}")
    config.add_route("api.staff.documents", "/staff/documents")
    # any store manual version as the PDF the stores' sets carry (DESIGN.md section 5.2)
    config.add_route(
        "api.staff.store_manual_pdf", "/staff/documents/store_manual/versions/{number:\\d+}.pdf"
    )
    config.add_route("api.staff.document_versions", "/staff/documents/{kind}/versions")
    config.add_route("api.staff.document_version", "/staff/documents/{kind}/versions/{number:\\d+}")
    config.add_route(
        "api.staff.document_events", "/staff/documents/{kind}/versions/{number:\\d+}/events"
    )
    config.add_route("api.staff.document_sections", "/staff/documents/{kind}/sections")
    config.add_route("api.staff.fraud_cases", "/staff/fraud-cases")
    config.add_route("api.staff.fraud_case", "/staff/fraud-cases/{id:\\d+}")
    config.add_route("api.staff.fraud_case_events", "/staff/fraud-cases/{id:\\d+}/events")
