"""coupons domain."""

SOLD_OUT_MEMO_KEY = "acquisition.sold_out_memo"


def includeme(config):
    from kariya.coupons.acquisition import sold_out_memo
    from kariya.settings import settings_of

    config.registry[SOLD_OUT_MEMO_KEY] = sold_out_memo(
        settings_of(config.registry)
    )  # one per process
