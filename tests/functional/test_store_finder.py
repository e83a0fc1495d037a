"""Store finder (S-1, issue 4 item 3): kanji, hiragana, katakana and half-width kana alike."""

import time

import pytest

from kariya.clock import FixedClock
from kariya.stores import registration
from tests.helpers import ROUND1


@pytest.fixture
def shops(db):
    clock = FixedClock(ROUND1)
    rows = [
        ("A001", "かりや青果店", "カリヤセイカテン", "食料品", "kariya"),
        ("A002", "喫茶みなと", "キッサミナト", "飲食", "ogakie"),
        ("A003", "パン工房こむぎ", "パンコウボウコムギ", "食料品", "iyosami"),
    ]
    for code, name, kana, category, area in rows:
        store = registration.create(
            db, clock, code=code, name=name, kana=kana, category=category, area=area
        )
        registration.activate_all_the_way(db, clock, store, actor="test")
    registration.create(
        db,
        clock,
        code="A004",
        name="喫茶まだ審査中",
        kana="キッサマダ",
        category="飲食",
        area="kariya",
    )
    db.commit()


@pytest.mark.parametrize(
    "query", ["喫茶", "きっさ", "キッサ", "ｷｯｻ", "みなと", "ﾐﾅﾄ", " 喫茶 みなと "]
)
def test_one_store_found_however_its_name_is_typed(testapp, shops, query):
    body = testapp.get("/api/v1/stores", {"q": query}).json
    assert [s["code"] for s in body["stores"]] == ["A002"], query
    assert body["total"] == 1


def test_filters_by_category_and_area_and_lists_only_active_stores(testapp, shops):
    assert testapp.get("/api/v1/stores").json["total"] == 3
    food = testapp.get("/api/v1/stores", {"category": "食料品"}).json
    assert {s["code"] for s in food["stores"]} == {"A001", "A003"}
    assert [
        s["code"]
        for s in testapp.get("/api/v1/stores", {"category": "食料品", "area": "iyosami"}).json[
            "stores"
        ]
    ] == ["A003"]
    assert testapp.get("/api/v1/stores", {"q": "%"}).json["total"] == 0
    testapp.get("/api/v1/stores", {"page": "x"}, status=422)


def test_six_hundred_stores_paginated_and_answered_in_under_100_ms(testapp, db):
    clock = FixedClock(ROUND1)
    for n in range(600):
        store = registration.create(
            db,
            clock,
            code=f"B{n:04d}",
            name=f"商店{n:04d}",
            kana=f"ショウテン{n:04d}",
            category="小売",
            area="kariya",
        )
        store.state = "active"  # arranging data only; the workflow itself is tested elsewhere
    db.commit()
    testapp.get("/api/v1/stores", {"q": "しょうてん"})  # warm up
    started = time.perf_counter()
    body = testapp.get("/api/v1/stores", {"q": "しょうてん", "page": 7}).json
    elapsed_ms = (time.perf_counter() - started) * 1000
    assert body["total"] == 600 and body["pages"] == 30 and body["page"] == 7
    assert len(body["stores"]) == 20
    print(f"600-store search answered in {elapsed_ms:.1f} ms")
    assert elapsed_ms < 100
