import pytest

from app.models.address import address_key


@pytest.mark.parametrize(
    "spelling",
    [
        "1200 W Harbor St",
        "1200 W. Harbor Street",
        "1200 west harbor st",
        "  1200  W  HARBOR  ST ",
        "1200 W Harbor St, Harbor City, IL",
        "1200 W Harbor St Apt 3",
        "1200 W Harbor St #3",
        "1200 W Harbor Street, Suite 200",
    ],
)
def test_one_place_written_many_ways_has_one_key(spelling):
    assert address_key(spelling) == "1200 w harbor st"


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("1200 W Harbor St", "1202 W Harbor St"),
        ("1200 W Harbor St", "1200 E Harbor St"),
        ("1200 W Harbor St", "1200 W Harbor Ave"),
    ],
)
def test_different_places_keep_different_keys(first, second):
    assert address_key(first) != address_key(second)


def test_no_address_has_no_key():
    assert address_key("") == ""
    assert address_key(" , Harbor City") == ""
