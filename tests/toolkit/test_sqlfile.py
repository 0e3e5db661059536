"""The statement splitter that lets failures name their line."""

from kwq8.sqlfile import is_no_transaction, line_of, split_statements


def test_splits_on_top_level_semicolons_only() -> None:
    text = (
        "select 'a;b', \"we;ird\";\n"
        "-- comment; with semicolon\n"
        "/* block; /* nested; */ still; */ select $$x;y$$;\n"
        "create function f() returns text language plpgsql as $fn$\nbegin\n  return 'a;' || $$b;$$;\nend\n$fn$;\n"
        "select E'it\\'s; fine';\n"
        "create function g() returns int language sql\nbegin atomic\n  select case when true then 1 end;\n"
        "  select 2;\nend;\n"
        "select 1"
    )
    parts = split_statements(text)
    assert [line for line, _ in parts] == [1, 2, 4, 9, 10, 15]
    assert parts[0][1] == "select 'a;b', \"we;ird\""
    assert parts[1][1].startswith("-- comment;") and parts[1][1].endswith("select $$x;y$$")
    assert parts[2][1].startswith("create function f()") and parts[2][1].endswith("$fn$")
    assert parts[3][1] == "select E'it\\'s; fine'"
    assert parts[4][1].startswith("create function g()") and parts[4][1].endswith("end")
    assert parts[5][1] == "select 1"


def test_comment_only_and_empty_statements_are_dropped() -> None:
    assert split_statements("-- nothing here;\n;;\n/* x */") == []


def test_dollar_sign_inside_identifiers_is_not_a_quote() -> None:
    assert [s for _, s in split_statements("select a$b; select 2")] == ["select a$b", "select 2"]


def test_no_transaction_marker_must_be_at_the_top() -> None:
    assert is_no_transaction("-- kwq8: no-transaction\ncreate index concurrently i on t (a);")
    assert not is_no_transaction("\n\n\n\n\n\n-- kwq8: no-transaction\n")
    assert not is_no_transaction("select 1; -- kwq8 no transaction")


def test_line_of_position() -> None:
    assert line_of("a\nbc\nd", 4) == 2
    assert line_of("abc", None) is None
