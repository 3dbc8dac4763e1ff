"""The suite-wide soak switch (tests/conftest.py) skips by the `soak` marker, not by names: the
3-minute soak in tests/soak/ runs in CI (a keyword match on "soak" once skipped it there)."""

from tests.conftest import pytest_collection_modifyitems


class _Item:
    def __init__(self, marks: set[str], keywords: set[str]):
        self.marks, self.keywords, self.added = marks, keywords, []

    def get_closest_marker(self, name):
        return name if name in self.marks else None

    def add_marker(self, marker):
        self.added.append(marker)


class _Config:
    def __init__(self, markexpr: str):
        self.markexpr = markexpr

    def getoption(self, name):
        assert name == "markexpr"
        return self.markexpr


def test_only_soak_marked_tests_are_skipped_unless_asked_for():
    ci_soak = _Item({"pulse", "slow"}, {"soak", "test_soak.py", "test_three_minute_show_with_unplugs"})
    long_soak = _Item({"pulse", "soak"}, {"soak", "test_long_show_with_unplugs"})
    other = _Item(set(), {"control", "test_osc.py"})
    pytest_collection_modifyitems(_Config(""), [ci_soak, long_soak, other])
    assert not ci_soak.added and not other.added
    assert [m.kwargs.get("reason", m.args) for m in long_soak.added] == ["long soak run: only with -m soak"]
    asked = _Item({"soak"}, {"soak"})
    pytest_collection_modifyitems(_Config("soak"), [asked])
    assert not asked.added
