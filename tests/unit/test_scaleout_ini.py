"""The scale-out benchmark's ini copies (tests/benchmarks/scaleout.py): the keys it overrides
are replaced or added in [app:main] only, and what the app then reads is the override."""

from tests.benchmarks import rush
from tests.benchmarks.scaleout import ini_copy


def test_keys_are_replaced_or_added_in_app_main_only(tmp_path):
    source = tmp_path / "source.ini"
    source.write_text(
        "[app:main]\n"
        "# sqlalchemy.url = a comment stays\n"
        "sqlalchemy.url = postgresql+psycopg://postgres@127.0.0.1:5432/kariya_bench\n"
        "kariya.redis_url = redis://127.0.0.1:6379/0\n"
        "\n"
        "[logger_root]\n"
        "level = WARN\n"
    )
    copy = ini_copy(
        source,
        tmp_path / "copy.ini",
        {
            "sqlalchemy.url": "postgresql+psycopg://postgres@127.0.0.1:6432/kariya_bench_x",
            "sqlalchemy.prepare_threshold": "none",
            "level": "DEBUG",
        },
    )
    text = copy.read_text()
    assert "# sqlalchemy.url = a comment stays" in text
    assert "[logger_root]\nlevel = WARN\n" in text
    settings = rush.app_settings(copy)
    assert settings["sqlalchemy.url"].endswith(":6432/kariya_bench_x")
    assert settings["sqlalchemy.prepare_threshold"] == "none"
    assert settings["kariya.redis_url"] == "redis://127.0.0.1:6379/0"
    assert settings["level"] == "DEBUG"  # added to [app:main], not to the logger's section


def test_a_copy_of_bench_ini_keeps_every_other_setting(tmp_path):
    copy = ini_copy(rush.BENCH_INI, tmp_path / "copy.ini", {"kariya.redis_url": "redis://x/4"})
    original, copied = rush.app_settings(rush.BENCH_INI), rush.app_settings(copy)
    assert copied["kariya.redis_url"] == "redis://x/4"
    for settings in (original, copied):
        del settings["kariya.redis_url"], settings["here"]  # `here` is the ini's folder
    assert copied == original
