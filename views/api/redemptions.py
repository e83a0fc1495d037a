"""Using coupons at a store: the scanned QR, and the use itself (I-5..I-7)."""

import json

from pyramid.view import view_config

from kariya.redemptions import till, uses
from kariya.security import P
from views import inputs
from views.api.support import idempotent, json_body, resident_id

REDEMPTION = {
    "store_token": inputs.text(),
    "coupons": inputs.integer(nullable=True, code="INVALID_COUPONS"),  # 1 or 2: uses.redeem
    "bill_amount": inputs.as_sent(),  # uses.parse_bill: digits, full-width too (INVALID_BILL)
    "pin": inputs.as_sent(),  # till.parse_pin: 4 digits, full-width too (INVALID_PIN)
}


@view_config(
    route_name="api.qr", request_method="GET", renderer="json", permission=P.RESIDENT_COUPONS_USE
)
def qr(request):
    return uses.preview(
        request.db,
        request.clock,
        resident_id(request),
        request.matchdict["token"],
        till.of(request.kariya_settings),
    )


@view_config(
    route_name="api.redemptions",
    request_method="POST",
    renderer="json",
    permission=P.RESIDENT_COUPONS_USE,
)
def redeem(request):
    raw = json_body(request)
    body = inputs.fields(raw, **REDEMPTION)
    person_id = resident_id(request)
    # The PIN stays out of the Idempotency-Key's stored hash (10,000 tries would recover it).
    rest = json.dumps({k: v for k, v in raw.items() if k != "pin"}, sort_keys=True)
    return idempotent(
        request,
        person_id,
        lambda: uses.redeem(
            request.db,
            request.clock,
            person_id,
            body["store_token"],
            body["coupons"],
            body["bill_amount"],
            pin=body["pin"],
            till=till.of(request.kariya_settings),
        ),
        fingerprint=rest.encode(),
    )
