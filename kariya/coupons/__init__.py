"""coupons domain."""

SOLD_OUT_MEMO_KEY = "acquisition.sold_out_memo"


def includeme(config):
    from kariya.coupons.acquisition import sold_out_memo

    config.registry[SOLD_OUT_MEMO_KEY] = sold_out_memo(config.get_settings())  # one per process
