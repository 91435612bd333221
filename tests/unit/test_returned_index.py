"""The on-disk index of returned records: lookups by any key, the first record under a key wins."""

from pathlib import Path

import pytest

from cdp_poc_studio.roundtrip.returned_index import ReturnedIndex
from cdp_poc_studio.roundtrip.verify import Returned


def test_lookup_by_every_key_and_prefix_listing(tmp_path: Path) -> None:
    path = tmp_path / "index.sqlite"
    with ReturnedIndex(path, lambda raw: Returned(raw)) as index:
        index.add({"firstName": "Jane"}, ["P:run-1", "email:jane@example.com"])
        index.add({"firstName": "Janet"}, ["P:run-2", "email:jane@example.com"])
        index.add({"firstName": "Other"}, ["Q:x"])
        assert index["P:run-1"].fields == {"firstName": "Jane"}
        assert index.get("email:jane@example.com").fields == {"firstName": "Jane"}  # type: ignore[union-attr]
        assert index.get("P:missing") is None
        with pytest.raises(KeyError):
            index["P:missing"]
        assert index.keys_starting_with("P:run-") == ["P:run-1", "P:run-2"]
        assert len(index) == 4
    assert not path.exists()


def test_further_records_under_a_key_are_duplicates_of_the_first(tmp_path: Path) -> None:
    from cdp_poc_studio.roundtrip.verify import Returned

    with ReturnedIndex(tmp_path / "i.sqlite", lambda raw: Returned(dict(raw))) as index:
        index.add({"guestRef": "g1", "firstName": "A"}, ["P:1", "email:a@x"])
        index.add({"guestRef": "g2", "firstName": "B"}, ["P:2"])
        index.add({"guestRef": "g3", "firstName": "A2"}, ["P:1"])
        assert index["P:1"].fields["firstName"] == "A"
        assert index["P:1"].duplicates == ("g3",)
        assert index["email:a@x"].duplicates == ()
        assert index["P:2"].duplicates == ()
