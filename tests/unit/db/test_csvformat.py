"""The tabdump CSV codec: writing, reading, errors with file and line, round trips."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xcatpy.db import csvformat
from xcatpy.db.csvformat import CSVError, parse
from xcatpy.db.schema import table


def values(text: str, source: str = "t.csv", tab=None) -> list[dict]:
    return [r.values for r in parse(text, source, tab).records]


# -- writing -----------------------------------------------------------------------------

@pytest.mark.parametrize(("value", "field"), [
    (None, ""),
    ("", '""'),
    ("plain", '"plain"'),
    ('say "hi"', '"say ""hi"""'),
    ("a,b", '"a,b"'),
    ("two\nlines", '"two\nlines"'),
])
def test_quote(value, field):
    assert csvformat.quote(value) == field


def test_dump_writes_header_and_one_record_per_row():
    text = csvformat.dump(["node", "groups", "comments"],
                          [{"node": "n1", "groups": "a,b", "comments": None},
                           {"node": "n2", "groups": "", "comments": 'x"y'}])
    assert text == '#node,groups,comments\n"n1","a,b",\n"n2","","x""y"\n'


def test_dump_records_keeps_a_multiline_value_in_one_record():
    recs = list(csvformat.dump_records(["a", "b"], [{"a": "1\n2", "b": None}]))
    assert recs == ["#a,b", '"1\n2",']


# -- reading -----------------------------------------------------------------------------

def test_null_and_empty_string_stay_different():
    assert values('#a,b,c\n"",,"x"\n') == [{"a": "", "b": None, "c": "x"}]


def test_commas_quotes_and_newlines_inside_values():
    text = '#a,b\n"x,y","say ""hi""\nsecond line"\n"z",\n'
    assert values(text) == [{"a": "x,y", "b": 'say "hi"\nsecond line'},
                            {"a": "z", "b": None}]


def test_record_lines_count_continuation_lines():
    parsed = parse('#a,b\n"1","two\nthree\nfour"\n"5","6"\n', "t.csv")
    assert [r.line for r in parsed.records] == [2, 5]


def test_unquoted_values_and_missing_trailing_fields():
    assert values("#a,b,c\nn1,x y\n") == [{"a": "n1", "b": "x y", "c": None}]


def test_crlf_line_ends_and_trailing_whitespace_are_ignored():
    assert values('#a,b\r\n"1","2"  \r\n3,4 \r\n') == [{"a": "1", "b": "2"},
                                                      {"a": "3", "b": "4"}]


def test_crlf_inside_a_quoted_value_is_kept():
    assert values('#a,b\n"x\r\ny",\n') == [{"a": "x\r\ny", "b": None}]


def test_blank_lines_and_bom_are_skipped():
    assert values('\ufeff#a,b\n\n"1","2"\n   \n') == [{"a": "1", "b": "2"}]


def test_header_quotes_and_spaces_are_dropped():
    assert parse('#"node", "groups"\n', "t.csv").columns == ["node", "groups"]


def test_header_columns_checked_against_a_table():
    parsed = parse('#node,groups\n"n1","all"\n', "nodelist.csv", table("nodelist"))
    assert parsed.columns == ["node", "groups"]


# -- errors ------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "line", "words"), [
    ("", 1, "empty"),
    ('node,groups\n"n1",\n', 1, "#"),
    ('#node,bogus\n"n1","x"\n', 1, "unknown column 'bogus'"),
    ('#node,node\n', 1, "twice"),
    ('#node,groups\n"n1","all"\n"n2","x,\ny\n', 3, "never closed"),
    ('#node,groups\n"n1","a","b"\n', 2, "too many fields"),
    ('#node,groups\n"n1",ab"c\n', 2, "unquoted"),
    ('#node,groups\n"n1","ab"c\n', 2, "closing quote"),
    ('#node,groups\n"n1","ab" ,"x"\n', 2, "closing quote"),
    ('#node,groups\n"n1","multi\nline" x\n', 3, "closing quote"),
])
def test_errors_name_file_and_line_in_one_line(text, line, words):
    with pytest.raises(CSVError) as exc:
        parse(text, "/tmp/nodelist.csv", table("nodelist"))
    msg = exc.value.message
    assert msg.startswith(f"/tmp/nodelist.csv: line {line}: ")
    assert words in msg
    assert "\n" not in msg


def test_unknown_column_error_names_the_table():
    with pytest.raises(CSVError, match="table 'site' has no such column"):
        parse("#key,colour\n", "site.csv", table("site"))


# -- round trips -------------------------------------------------------------------------

_values = st.one_of(st.none(), st.text())
_names = st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True)


@settings(max_examples=300)
@given(st.lists(_names, min_size=2, max_size=6, unique=True).flatmap(
    lambda cols: st.tuples(st.just(cols), st.lists(
        st.fixed_dictionaries({c: _values for c in cols}), max_size=6))))
def test_dump_then_parse_gives_back_every_value(case):
    columns, rows = case
    parsed = parse(csvformat.dump(columns, rows), "prop.csv")
    assert parsed.columns == columns
    assert [r.values for r in parsed.records] == rows


@given(st.lists(st.tuples(st.text(min_size=1), _values, _values), max_size=5))
def test_round_trip_through_a_real_table_header(triples):
    tab = table("site")
    rows = [{"key": k, "value": v, "comments": c, "disable": None} for k, v, c in triples]
    parsed = parse(csvformat.dump(tab.colnames, rows), "site.csv", tab)
    assert [r.values for r in parsed.records] == rows
