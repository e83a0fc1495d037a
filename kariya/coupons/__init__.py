"""coupons domain."""

SOLD_OUT_MEMO_KEY = "acquisition.sold_out_memo"
GROUP_COMMIT_KEY = "acquisition.group_commit"


def includeme(config):
    from kariya.coupons.acquisition import sold_out_memo
    from kariya.coupons.group_commit import group_commit
    from kariya.settings import settings_of

    settings = settings_of(config.registry)
    config.registry[SOLD_OUT_MEMO_KEY] = sold_out_memo(settings)  # one per process
    config.registry[GROUP_COMMIT_KEY] = group_commit(settings, config.get_settings())
